"""One adapter per private API of a dependency that qornn relies on.

Each module here is the only place that touches its dependency's private names, and
``tests/test_adapters.py`` checks those names and their behaviour, so that an upgrade
that moves or changes them fails there, loudly, instead of deep inside a training run:

* :mod:`.fht_cpu` – the row transform of the optional ``fht-cpu`` kernel;
* :mod:`.torch_orthogonal` – torch's ``_Orthogonal`` parametrization (expm / Cayley maps).
"""
