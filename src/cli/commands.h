/* commands.h - the subcommands of the gptoss tool. Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the exit status. */
#ifndef GPTOSS_CLI_COMMANDS_H
#define GPTOSS_CLI_COMMANDS_H

int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
