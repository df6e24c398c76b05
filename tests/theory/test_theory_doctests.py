"""The examples in the docstrings of qornn.theory run and give what they show."""
import doctest
import importlib
import pkgutil

import pytest

import qornn.theory

MODULES = [m.name for m in pkgutil.iter_modules(qornn.theory.__path__) if m.name != "plot"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"qornn.theory.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
