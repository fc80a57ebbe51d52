"""``spasmwatch token``: tokens bound to wearers, clinician assignments, studies."""

from __future__ import annotations

import json

import pytest

from spasmwatch.api import TokenStore
from spasmwatch.cli import main


def test_token_cli_scopes_who_sees_whom(tmp_path, capsys):
    db = str(tmp_path / "e.db")
    assert (
        main(["token", "--db", db, "create", "--role", "wearer", "--name", "w", "--wearer", "p1"])
        == 0
    )
    wearer_secret = capsys.readouterr().out.strip()
    args = ["token", "--db", db, "create", "--role", "clinician", "--name", "dr-a"]
    assert main([*args, "--wearer", "p1", "--wearer", "p2", "--json"]) == 0
    clin = json.loads(capsys.readouterr().out)
    assert clin["role"] == "clinician" and clin["token"].startswith("sw_")
    assert (
        main(
            ["token", "--db", db, "create", "--role", "researcher", "--name", "r1", "--study", "S1"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["token", "--db", db, "enrol", "S1", "p2"]) == 0
    assert main(["token", "--db", db, "member", "S1", "r2"]) == 0
    assert main(["token", "--db", db, "assign", "dr-a", "p2", "--remove"]) == 0
    capsys.readouterr()
    assert main(["token", "--db", db, "access", "--json"]) == 0
    acc = json.loads(capsys.readouterr().out)
    assert acc["clinicians"] == {"dr-a": ["p1"]}
    assert acc["studies"]["S1"]["wearers"] == ["p2"]
    assert acc["studies"]["S1"]["researchers"] == ["r1", "r2"]
    assert main(["token", "--db", db, "list"]) == 0
    assert "(wearer p1)" in capsys.readouterr().out
    t = TokenStore(db)
    try:
        assert list(t.visible_wearers(t.authenticate(wearer_secret))) == ["p1"]
        assert list(t.visible_wearers(t.authenticate(clin["token"]))) == ["p1"]
    finally:
        t.close()
    # a wearer token needs exactly one wearer
    assert main(["token", "--db", db, "create", "--role", "wearer", "--name", "x"]) != 0
    assert "exactly one wearer" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--study", "S1"], ["--wearer", "a", "--wearer", "b"]])
def test_wearer_token_options_refused(tmp_path, capsys, bad):
    db = str(tmp_path / "e.db")
    assert main(["token", "--db", db, "create", "--role", "wearer", "--name", "x", *bad]) != 0
