"""The triage engine: plain Python, driven by the protocol file.

Text normalisation, terms, clinical context, numbers, days, rules, the detectors, the engine that
combines them and the dialogue decision. Nothing here imports Rasa, the channels, storage or settings
(tests/aftercare/triage/test_boundary.py enforces it).
"""
