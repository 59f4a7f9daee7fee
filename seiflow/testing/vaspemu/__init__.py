"""Parts of the VASP emulator (:mod:`seiflow.testing.vasp_emulator`): inputs, dynamics, output writers."""
