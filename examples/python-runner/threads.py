"""What the tests that run runner.py's TaskRunner in its own threads share: the one-Copy
pipeline it works on, and waiting on the wall clock for what a runner says it did."""

import time

DEFINITION = [
    {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
    {"id": "Copy", "name": "Copy", "fields": [
        {"key": "type", "stringValue": "ShellCommandActivity"},
        {"key": "command", "stringValue": "echo hi"},
        {"key": "workerGroup", "stringValue": "wg-1"}]},
]


def wait_for(condition, what, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def saw(runner, what):
    return any(event == what for event, _ in runner.events)
