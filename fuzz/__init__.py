"""Fuzzers for mailflow's parsers: ``python fuzz/run.py TARGET|all --examples N``."""
