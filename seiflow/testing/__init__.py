"""Test helpers that ship with the package: a fake VASP from real outputs, tiny flows."""
