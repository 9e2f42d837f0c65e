"""Theory that predicts what the models do: dynamic mean-field theory of random networks,
mean-field theory of low-rank networks, capacities and spectra. Every prediction here is checked
against simulation in the tests."""

__all__: list[str] = []
