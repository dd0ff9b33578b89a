"""kws-demo: a local web page that listens to the microphone and shows what the model hears (server.py:
the routes and the guards; session.py: one microphone's stream through kws-detect's detector; static/: the
page, plain files with no build step)."""
