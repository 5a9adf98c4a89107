"""The lookup that the small by-name registries share (regularizers, constraints)."""

from __future__ import annotations


def resolve(identifier, registry: dict, base: type, argument: str):
    """``identifier`` as an instance of ``base``: None and instances as they are, a
    registered name built with its defaults, a ``{"class_name", "config"}`` dict built
    with ``from_config``.

    Args:
        identifier: None, an instance of ``base``, a name in ``registry`` or a config dict.
        registry: names to classes.
        base: the classes' base class.
        argument: the argument's name, for the error.

    Returns:
        The instance, or None.

    Raises:
        ValueError: anything else, naming ``argument`` and the known names.

    Example:
        >>> from rnnkit.regularizers import Regularizer, L2
        >>> resolve("l2", {"l2": L2}, Regularizer, "kernel_regularizer")
        L2(l2=0.01)
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str) and identifier in registry:
        return registry[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in registry:
        return registry[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(
        f"Received an invalid value for argument {argument}, expected one of "
        f"{sorted(registry)} (a name, a config dict or an instance), got {identifier!r}."
    )


def serialize(obj) -> dict | None:
    """``{"class_name": ..., "config": obj.get_config()}``, or None for None.

    Args:
        obj: an object with ``get_config``, or None.

    Returns:
        The config dict that :func:`resolve` reads back, or None.

    Example:
        >>> from rnnkit.regularizers import L1
        >>> serialize(L1(0.5))
        {'class_name': 'L1', 'config': {'l1': 0.5}}
    """
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}
