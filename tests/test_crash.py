"""The crash harness, shortened: `redline run` killed at random moments, resumed, and compared with a
run never killed (the full run, 50 kills of 40 articles, is `make crash-test`)."""

from crash_harness import crash_test


def test_runs_killed_at_random_lose_nothing_and_double_nothing(tmp_path):
    outcome = crash_test(kills=5, articles=8, seed=11, folder=tmp_path, log=lambda line: None)
    assert outcome.kills >= 5 and outcome.runs >= 1  # a round may take several kills before a run completes
    assert outcome.problems == []
