"""The console commands: each module reads its arguments and joins the library packages; nothing else.

kws-train, kws-eval, kws-export, kws-synth (Hydra configs, kws.commands.hydra_command) and kws-report,
kws-predict, kws-detect, kws-detect-eval (argparse). kws.commands.launch checks the install first."""
