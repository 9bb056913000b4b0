"""The Panasonic data map, which the demo systems must match."""

from __future__ import annotations

import pytest

from pledge.datamap import DataMap, load_datamap
from pledge.policy import load_compiled
from tests.conftest import PANASONIC_POLICY
from tests.datamap.conftest import DATASETS


@pytest.fixture(scope="session")
def datamap() -> DataMap:
    return load_datamap(DATASETS, load_compiled(PANASONIC_POLICY))
