"""Offline keyword data: a Speech-Commands-shaped data set spoken by eSpeak NG, for when the real one can't be
downloaded (CI, air-gapped machines) or a quick, reproducible smoke test is wanted."""
