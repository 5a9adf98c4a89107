"""Echo state networks (Jaeger 2001): a fixed random reservoir and a linear readout.

The reservoir is a leaky-integrator recurrent layer whose weights are drawn once and
never trained; only the readout is fitted, in closed form, by ridge regression on
the reservoir states. With rows as time steps (rnnkit's convention, x·W):

    r_t = (1 - a)·r_{t-1} + a·tanh(u_t·W_in + r_{t-1}·W + b)      (reservoir)
    y_t = [1, r_t]·W_out                 ([1, u_t, r_t] with include_input)
    W_out = (XᵀX + λ·R)⁻¹ XᵀY           (ridge readout, R = I without the bias entry)

a is the leak rate; W is sparse (each entry non-zero with probability
``connectivity``, standard normal) and rescaled so that its spectral radius (the
largest |eigenvalue|) is ``spectral_radius``; W_in and b are uniform in
[-input_scaling, input_scaling] and [-bias_scaling, bias_scaling]. The first
``washout`` states of each training sequence are left out of the regression (they
still remember the arbitrary zero initial state).

Training is teacher-forced: the reservoir reads the true inputs. For forecasting a
series s, fit on inputs s_t and targets s_{t+1}; :meth:`EchoStateNetwork.generate`
then runs closed-loop (free-running), feeding each prediction back as the next input.

Example:
    >>> t = np.arange(1200) * 0.1
    >>> series = np.sin(t)[:, None]
    >>> esn = EchoStateNetwork(units=100, seed=0).fit(series[:999], series[1:1000])
    >>> future = esn.generate(50)  # the last input read was s_998: forecasts from s_999 on
    >>> bool(np.abs(future[:, 0] - np.sin(t[999:1049])).max() < 1e-3)  # s_999 … s_1048
    True
"""

from __future__ import annotations

import numpy as np

from ..backend import make_rng
from ..utils import validation
from ..utils.linalg import spectral_radius


def _recurrent_product(w: np.ndarray):
    """r -> r·W, through a sparse matrix when scipy is installed and W is sparse."""
    density = np.count_nonzero(w) / max(w.size, 1)
    if density < 0.3:
        try:
            from scipy.sparse import csr_matrix
        except ImportError:
            pass
        else:
            wt = csr_matrix(w.T)
            return lambda r: wt @ r
    return lambda r: r @ w


def nrmse(y_true, y_pred) -> float:
    """Root-mean-square error divided by the range (max - min) of ``y_true``, over all
    entries: the normalisation of reservoirpy's default ``nrmse`` (peak to peak).

    Args:
        y_true: the targets, an array.
        y_pred: the predictions, an array of ``y_true``'s shape.

    Returns:
        The NRMSE, a float.

    Raises:
        ValueError: shapes that differ, or a constant ``y_true``.

    Example:
        >>> from rnnkit.models.esn import nrmse
        >>> nrmse([0.0, 1.0, 2.0, 4.0], [0.0, 1.0, 2.0, 2.0])  # RMSE 1, range 4
        0.25
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"Received an invalid value for argument y_pred, expected shape {y_true.shape} "
            f"(that of y_true), got {y_pred.shape}."
        )
    spread = float(y_true.max() - y_true.min())
    if spread == 0:
        raise ValueError("Received a constant y_true: its range is 0, the NRMSE is undefined.")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)) / spread)


class EchoStateNetwork:
    """A leaky echo state network with a ridge-regression readout.

    Args:
        units: reservoir size (default 500).
        spectral_radius: target max |eigenvalue| of the recurrent weights W
            (default 1.25).
        leak_rate: a in (0, 1] (default 0.3; 1 is a non-leaky reservoir).
        input_scaling: W_in is uniform in [-input_scaling, input_scaling]
            (default 1.0).
        bias_scaling: the bias is uniform in [-bias_scaling, bias_scaling]
            (default 1.0; 0 for no bias).
        connectivity: fraction of non-zero entries of W (default 0.1).
        input_connectivity: fraction of non-zero entries of W_in (default 1.0).
        ridge: λ, the ridge penalty of the readout (default 1e-7).
        washout: states left out of the regression at the start of each training
            sequence (default 100).
        include_input: also feed u_t to the readout (default False).
        seed: int, numpy Generator or None: draws W_in, W and b.

    Attributes (after :meth:`fit`):
        W_in (input_dim, units), W (units, units), bias (units,), W_out
        (1 [+ input_dim] + units, output_dim), state_ (units,): the reservoir state
        where the last call left it.

    Raises:
        ValueError, TypeError: for invalid arguments, naming the argument.

    Example:
        >>> import numpy as np
        >>> from rnnkit.models.esn import EchoStateNetwork, nrmse
        >>> series = np.sin(np.arange(600) * 0.2)[:, None]
        >>> esn = EchoStateNetwork(units=50, washout=50, seed=0)
        >>> esn = esn.fit(series[:399], series[1:400])
        >>> esn.W.shape, esn.W_out.shape
        ((50, 50), (51, 1))
        >>> predicted = esn.predict(series[399:-1])  # from the zero state: wash it out
        >>> bool(nrmse(series[450:], predicted[50:]) < 0.01)
        True
    """

    def __init__(
        self,
        units: int = 500,
        spectral_radius: float = 1.25,
        leak_rate: float = 0.3,
        input_scaling: float = 1.0,
        bias_scaling: float = 1.0,
        connectivity: float = 0.1,
        input_connectivity: float = 1.0,
        ridge: float = 1e-7,
        washout: int = 100,
        include_input: bool = False,
        seed=None,
    ):
        self.units = validation.positive_int(units, "units")
        self.spectral_radius = validation.positive_float(spectral_radius, "spectral_radius")
        self.leak_rate = validation.unit_interval(leak_rate, "leak_rate")
        self.input_scaling = validation.positive_float(
            input_scaling, "input_scaling", allow_zero=True
        )
        self.bias_scaling = validation.positive_float(bias_scaling, "bias_scaling", allow_zero=True)
        self.connectivity = validation.unit_interval(connectivity, "connectivity")
        self.input_connectivity = validation.unit_interval(input_connectivity, "input_connectivity")
        self.ridge = validation.positive_float(ridge, "ridge", allow_zero=True)
        if isinstance(washout, bool) or not isinstance(washout, (int, np.integer)) or washout < 0:
            raise ValueError(
                f"Received an invalid value for argument washout, expected a non-negative "
                f"integer, got {washout!r}."
            )
        self.washout = int(washout)
        self.include_input = bool(include_input)
        self.seed = seed
        self.rng = make_rng(seed)
        self.W_in: np.ndarray | None = None
        self.W: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.W_out: np.ndarray | None = None
        self.state_: np.ndarray | None = None
        self.input_dim: int | None = None
        self.output_dim: int | None = None
        self._last_input: np.ndarray | None = None

    # ---- the reservoir -------------------------------------------------------------
    def initialize(self, input_dim: int) -> EchoStateNetwork:
        """Draw W_in, W and b for inputs of ``input_dim`` features (done by the first
        :meth:`fit`; call it yourself to inspect the reservoir before).

        Args:
            input_dim: the number of input features, a positive int.

        Returns:
            self.

        Raises:
            ValueError: a bad ``input_dim``, or a drawn W with no non-zero eigenvalue
                (raise connectivity).

        Example:
            >>> import numpy as np
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> esn = EchoStateNetwork(units=40, spectral_radius=0.9, seed=0).initialize(2)
            >>> esn.W_in.shape, round(float(np.abs(np.linalg.eigvals(esn.W)).max()), 6)
            ((2, 40), 0.9)
        """
        input_dim = validation.positive_int(input_dim, "input_dim")
        rng, n = self.rng, self.units
        w = rng.standard_normal((n, n)) * (rng.random((n, n)) < self.connectivity)
        radius = spectral_radius(w) if n else 0.0
        if radius == 0.0:
            raise ValueError(
                f"Received an invalid value for argument connectivity: the random recurrent "
                f"weights ({n} units, connectivity {self.connectivity}) have spectral radius "
                f"0 and cannot be rescaled; raise connectivity or units."
            )
        self.W = w * (self.spectral_radius / radius)
        w_in = rng.uniform(-1.0, 1.0, (input_dim, n)) * self.input_scaling
        if self.input_connectivity < 1.0:
            w_in *= rng.random((input_dim, n)) < self.input_connectivity
        self.W_in = w_in
        self.bias = rng.uniform(-1.0, 1.0, n) * self.bias_scaling
        self.input_dim = input_dim
        self.state_ = np.zeros(n)
        return self

    def _check_series(self, x, argument: str) -> np.ndarray:
        x = validation.as_array(x, argument)
        validation.check_finite(x, argument)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(
                f"Received an invalid value for argument {argument}, expected a series of "
                f"shape (steps,) or (steps, features), got shape {x.shape}."
            )
        if self.input_dim is not None and argument == "x" and x.shape[1] != self.input_dim:
            raise ValueError(
                f"Received an invalid value for argument x, expected {self.input_dim} "
                f"features per step, got {x.shape[1]}."
            )
        return x

    def reset_state(self) -> None:
        """Set the reservoir state back to zeros (nothing to do before
        :meth:`initialize`).

        Example:
            >>> import numpy as np
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> series = np.sin(np.arange(300) * 0.2)
            >>> esn = EchoStateNetwork(units=30, washout=20, seed=0).fit(series[:-1], series[1:])
            >>> esn.reset_state()
            >>> float(np.abs(esn.state_).max())
            0.0
        """
        if self.state_ is not None:
            self.state_ = np.zeros(self.units)

    def run(self, x, reset: bool = True) -> np.ndarray:
        """Drive the reservoir with the input series ``x`` (teacher forcing).

        Args:
            x: (steps, features) or (steps,).
            reset: start from the zero state (default); False continues from
                ``state_`` (where the last call ended).

        Returns:
            the states r_1 … r_steps, (steps, units). ``state_`` becomes the last one.

        Raises:
            ValueError: malformed input, or a reservoir not initialised yet.

        Example:
            >>> import numpy as np
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> esn = EchoStateNetwork(units=30, seed=0).initialize(1)
            >>> states = esn.run(np.zeros(5))
            >>> states.shape, bool(np.array_equal(esn.state_, states[-1]))
            ((5, 30), True)
        """
        if self.W is None:
            raise ValueError("The reservoir is not initialised: call fit() or initialize().")
        x = self._check_series(x, "x")
        if reset:
            self.reset_state()
        drive = x @ self.W_in + self.bias  # all steps' input terms in one product
        a, keep = self.leak_rate, 1.0 - self.leak_rate
        recur = _recurrent_product(self.W)
        states = np.empty((len(x), self.units))
        r = self.state_
        for t in range(len(x)):
            r = keep * r + a * np.tanh(drive[t] + recur(r))
            states[t] = r
        self.state_ = r.copy()
        self._last_input = x[-1].copy()
        return states

    def _features(self, states: np.ndarray, x: np.ndarray) -> np.ndarray:
        cols = [np.ones((len(states), 1))]
        if self.include_input:
            cols.append(x)
        cols.append(states)
        return np.concatenate(cols, axis=1)

    # ---- training and prediction -----------------------------------------------------
    def fit(self, x, y, washout: int | None = None) -> EchoStateNetwork:
        """Teacher-forced training: run the reservoir on ``x`` from the zero state and
        solve the ridge readout from its states (after the washout) to ``y``.

        Args:
            x: input series (steps, features) or (steps,), or a list of such series
                (each starts from the zero state and loses its own washout).
            y: targets aligned with ``x`` step by step (a list if ``x`` is one).
            washout: overrides the constructor's washout for this fit.

        Returns:
            self, with ``W_out`` set and ``state_`` at the end of the (last) series.

        Raises:
            ValueError: mismatched lengths or features, a bad ``washout``, or no step
                left after the washout.

        Example:
            >>> import numpy as np
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> series = [np.sin(np.arange(200) * 0.2 + phase) for phase in (0.0, 1.0)]
            >>> esn = EchoStateNetwork(units=30, seed=0)
            >>> esn = esn.fit([s[:-1] for s in series], [s[1:] for s in series], washout=20)
            >>> esn.W_out.shape
            (31, 1)
        """
        xs, ys = (list(x), list(y)) if isinstance(x, (list, tuple)) else ([x], [y])
        if len(xs) != len(ys) or not xs:
            raise ValueError(
                f"Received an invalid value for argument y, expected {len(xs)} target "
                f"series (one per input series), got {len(ys)}."
            )
        washout = self.washout if washout is None else washout
        if isinstance(washout, bool) or not isinstance(washout, (int, np.integer)) or washout < 0:
            raise ValueError(
                f"Received an invalid value for argument washout, expected a non-negative "
                f"integer, got {washout!r}."
            )
        xs = [self._check_series(s, "x") for s in xs]
        ys = [self._check_series(s, "y") for s in ys]
        features = {s.shape[1] for s in xs}
        outputs = {s.shape[1] for s in ys}
        if len(features) != 1 or len(outputs) != 1:
            raise ValueError(
                f"Received series with differing feature counts: inputs {sorted(features)}, "
                f"targets {sorted(outputs)}."
            )
        for i, (a, b) in enumerate(zip(xs, ys)):
            if len(a) != len(b):
                raise ValueError(
                    f"Received an invalid value for argument y, expected {len(a)} steps (as "
                    f"x{'' if len(xs) == 1 else f'[{i}]'}), got {len(b)}."
                )
            if len(a) <= washout:
                raise ValueError(
                    f"Received an invalid value for argument washout, expected fewer than the "
                    f"{len(a)} steps of the series, got {washout}."
                )
        if self.W is None or self.input_dim != xs[0].shape[1]:
            self.initialize(xs[0].shape[1])
        dim = (1 + (self.input_dim if self.include_input else 0)) + self.units
        xtx = np.zeros((dim, dim))
        xty = np.zeros((dim, ys[0].shape[1]))
        for a, b in zip(xs, ys):
            feats = self._features(self.run(a, reset=True), a)[washout:]
            xtx += feats.T @ feats
            xty += feats.T @ b[washout:]
        penalty = np.full(dim, self.ridge)
        penalty[0] = 0.0  # the bias is not shrunk
        xtx[np.diag_indices(dim)] += penalty
        self.W_out = np.linalg.solve(xtx, xty)
        self.output_dim = ys[0].shape[1]
        return self

    def _require_fitted(self) -> None:
        if self.W_out is None:
            raise ValueError("The readout is not trained: call fit() first.")

    def predict(self, x, reset: bool = True) -> np.ndarray:
        """Teacher-forced outputs: y_t from the reservoir driven by the true ``x``.

        Args:
            x: input series (steps, features) or (steps,).
            reset: start from the zero state (default); False continues from where the
                last fit / run / predict / generate ended (e.g. one-step forecasts of
                the steps right after the training series).

        Returns:
            (steps, output_dim).

        Raises:
            ValueError: an unfitted model, or malformed input.

        Example:
            >>> import numpy as np
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> series = np.sin(np.arange(300) * 0.2)
            >>> esn = EchoStateNetwork(units=30, washout=20, seed=0).fit(series[:-1], series[1:])
            >>> esn.predict(series[:50]).shape
            (50, 1)
        """
        self._require_fitted()
        x = self._check_series(x, "x")
        return self._features(self.run(x, reset=reset), x) @ self.W_out

    def generate(self, n_steps: int, warmup=None) -> np.ndarray:
        """Free-running (closed-loop) generation: each output becomes the next input.

        The first output is the readout of the current state, i.e. the forecast of the
        step after the last input read; it is then fed in to produce the next one, and
        so on. Needs as many outputs as inputs.

        Args:
            n_steps: how many steps to generate, a positive int.
            warmup: optional series to read first (teacher-forced, from the zero
                state); without it generation continues from ``state_``.

        Returns:
            (n_steps, output_dim).

        Raises:
            ValueError: an unfitted model or outputs of a different size than inputs.

        Example:
            >>> import numpy as np
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> series = np.sin(np.arange(300) * 0.2)
            >>> esn = EchoStateNetwork(units=30, washout=20, seed=0).fit(series[:-1], series[1:])
            >>> future = esn.generate(10)  # the last input read was series[298]
            >>> error = np.abs(future[:, 0] - np.sin(np.arange(299, 309) * 0.2)).max()
            >>> future.shape, bool(error < 0.01)
            ((10, 1), True)
        """
        self._require_fitted()
        n_steps = validation.positive_int(n_steps, "n_steps")
        if self.output_dim != self.input_dim:
            raise ValueError(
                f"Cannot run closed-loop: the readout has {self.output_dim} outputs but the "
                f"reservoir reads {self.input_dim} inputs."
            )
        if warmup is not None:
            self.run(warmup, reset=True)
        r, u = self.state_.copy(), self._last_input
        a, keep = self.leak_rate, 1.0 - self.leak_rate
        out = np.empty((n_steps, self.output_dim))
        recur = _recurrent_product(self.W)
        for t in range(n_steps):
            feats = [np.ones(1)] + ([u] if self.include_input else []) + [r]
            y = np.concatenate(feats) @ self.W_out
            out[t] = y
            u = y
            r = keep * r + a * np.tanh(u @ self.W_in + self.bias + recur(r))
        # r has read the last output: a further generate() continues the forecast
        self.state_ = r
        self._last_input = u
        return out

    def get_params(self) -> dict:
        """The constructor's arguments (scikit-learn's habit).

        Returns:
            A dict from each argument's name to its value.

        Example:
            >>> from rnnkit.models.esn import EchoStateNetwork
            >>> params = EchoStateNetwork(units=30, seed=0).get_params()
            >>> params["units"], params["leak_rate"], params["seed"]
            (30, 0.3, 0)
        """
        return {
            "units": self.units,
            "spectral_radius": self.spectral_radius,
            "leak_rate": self.leak_rate,
            "input_scaling": self.input_scaling,
            "bias_scaling": self.bias_scaling,
            "connectivity": self.connectivity,
            "input_connectivity": self.input_connectivity,
            "ridge": self.ridge,
            "washout": self.washout,
            "include_input": self.include_input,
            "seed": self.seed,
        }


__all__ = ["EchoStateNetwork", "nrmse"]
