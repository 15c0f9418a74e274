"""Row ids in API paths beyond the database's 64-bit integers are a 4xx, not a 500.

Found by schemathesis (tests/test_fuzz_api.py): the target checks are hand-written SQL, and
SQLite's driver raised OverflowError on an id of 2**64 where the ORM finds nothing.
"""

from __future__ import annotations

import pytest

from phonebank.accounts.services import token_create


@pytest.mark.parametrize("pk", [2**63, 2**64, 10**40])
@pytest.mark.parametrize("action", ["outcome", "release"])
def test_a_target_id_out_of_range_is_refused_not_a_server_error(client, caller, action, pk):
    _token, raw = token_create(user=caller, actor=None)
    response = client.post(
        f"/api/targets/{pk}/{action}",
        {"outcome": "no_answer"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_the_largest_id_is_just_not_found(client, caller):
    _token, raw = token_create(user=caller, actor=None)
    response = client.post(f"/api/targets/{2**63 - 1}/release", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 404
