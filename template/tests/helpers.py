"""What the test modules share beside conftest.py's fixtures: the fixtures' types."""

from collections.abc import Callable
from typing import Any

import httpx

# new_task(**fields) creates a task through the API and returns its JSON
NewTask = Callable[..., dict[str, Any]]
# unique_title(prefix) cannot clash with data already in a live deployment
UniqueTitle = Callable[[str], str]
# make_client(**environment) is a client of an app started with those settings
MakeClient = Callable[..., httpx.Client]
