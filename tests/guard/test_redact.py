"""Which values of the environment count as secrets, and how they are redacted."""

from __future__ import annotations

from agentflow.guard.redact import redact, redact_data, secrets

ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-api-key-1234",
    "ANTHROPIC_AUTH_TOKEN": "auth-token-5678",
    "OPENAI_API_KEY": "sk-openai-9999",
    "GITHUB_TOKEN": "ghp_abcdefgh",
    "AWS_SECRET_ACCESS_KEY": "aws/secret/key+1",
    "DB_PASSWORD": "hunter2hunter2",
    "MY_SECRET": "shh-quiet-now",
    "SHORT_TOKEN": "abc1234",  # under 8 characters: an ordinary word could match
    "HOME": "/home/someone/far",  # not a secret's name
    "PATH": "/usr/bin:/bin",
}


def test_secret_names_and_lengths():
    names = {name for _, name in secrets(ENV)}
    assert names == {
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "MY_SECRET",
    }


def test_values_are_replaced_everywhere_in_text_and_data():
    found = secrets(ENV)
    text = "key sk-ant-api-key-1234 and ghp_abcdefgh at /home/someone/far, abc1234"
    assert redact(text, found) == (
        "key [redacted: ANTHROPIC_API_KEY] and [redacted: GITHUB_TOKEN] at /home/someone/far, "
        "abc1234"
    )
    data = {"sk-openai-9999": ["x hunter2hunter2 y", ("shh-quiet-now",), 3, None]}
    assert redact_data(data, found) == {
        "[redacted: OPENAI_API_KEY]": [
            "x [redacted: DB_PASSWORD] y",
            ("[redacted: MY_SECRET]",),
            3,
            None,
        ]
    }


def test_a_key_that_contains_another_is_replaced_whole():
    found = secrets({"A_TOKEN": "abcdefgh", "B_TOKEN": "abcdefgh-longer"})
    assert redact("abcdefgh-longer abcdefgh", found) == "[redacted: B_TOKEN] [redacted: A_TOKEN]"


def test_the_environment_is_read_at_each_call(monkeypatch):
    monkeypatch.setenv("LATE_API_KEY", "set-after-start")
    assert redact("x set-after-start") == "x [redacted: LATE_API_KEY]"


def test_the_process_environment_is_read_again_when_it_changes(monkeypatch):
    # secrets() remembers its last scan; every change that matters must show at once.
    monkeypatch.setenv("DEPLOY_TOKEN", "first-value-123")
    assert redact("x first-value-123") == "x [redacted: DEPLOY_TOKEN]"
    monkeypatch.setenv("DEPLOY_TOKEN", "second-value-456")  # a new value of a secret
    assert redact("first-value-123 second-value-456") == (
        "first-value-123 [redacted: DEPLOY_TOKEN]"
    )
    monkeypatch.setenv("OTHER_API_KEY", "another-secret-789")  # a new variable
    assert redact("another-secret-789") == "[redacted: OTHER_API_KEY]"
    monkeypatch.delenv("OTHER_API_KEY")
    assert redact("another-secret-789") == "another-secret-789"
