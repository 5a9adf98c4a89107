"""One time step of each recurrent cell, forward and backward side by side."""

from .base import Cell
from .gru import GRUCell
from .lstm import LSTMCell
from .simple_rnn import SimpleRNNCell

__all__ = ["Cell", "SimpleRNNCell", "LSTMCell", "GRUCell"]
