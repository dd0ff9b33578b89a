"""eSpeak's fork server (`python -m kws.synth.espeak_server`, started by kws.synth.espeak): it loads the
engine once and speaks each request in a fresh fork of itself (the protocol: kws.synth.fork_server)."""

from kws.synth import espeak, fork_server

if __name__ == "__main__":
    fork_server.serve(espeak.load_engine, espeak.answer_in_fresh_child)
