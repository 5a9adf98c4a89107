"""The seeds' two Keras scripts ("## Simple RNN", "## Stacked RNN"), run on rnnkit.

The notes (seeds/000) train a SimpleRNN and a stacked SimpleRNN classifier on the
Reuters newswires with Keras and scikit-learn's KerasClassifier. The cells are copied
below verbatim. The test changes ONLY their import lines (``keras.*`` -> ``rnnkit.*``)
and, for speed, ``epochs = 200`` -> ``epochs = 2``, then runs them with
``rnnkit.datasets.reuters.load_data`` replaced by a small synthetic stand-in of the
real call's shape: 1,395 training and 599 test sequences of 5..49 word ids starting
with 1, ids below num_words, 46 topics, all of them present among the training labels.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

# the project's shared folder beside the checkout (../shared), as the data
SEEDS_FILE = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_962885ae4862c7f7.txt"

# In [1]: of the notes, verbatim (trailing blanks included)
SIMPLE_RNN_SCRIPT = r"""import numpy as np

from sklearn.metrics import accuracy_score
from keras.datasets import    reuters
from keras.preprocessing.sequence import pad_sequences
from keras.utils import to_categorical
from keras.models import Sequential
from keras.layers import Dense, SimpleRNN, Activation
from keras import optimizers
from keras.wrappers.scikit_learn import KerasClassifier

# parameters for data load
num_words = 30000
maxlen = 50
test_split = 0.3

(X_train, y_train), (X_test, y_test) = reuters.load_data(num_words = num_words, maxlen = maxlen, test_split = test_split)



# pad the sequences with zeros 
# padding parameter is set to 'post' => 0's are appended to end of sequences
X_train = pad_sequences(X_train, padding = 'post')
X_test = pad_sequences(X_test, padding = 'post')

X_train = np.array(X_train).reshape((X_train.shape[0], X_train.shape[1], 1))
X_test = np.array(X_test).reshape((X_test.shape[0], X_test.shape[1], 1))

y_data = np.concatenate((y_train, y_test))
y_data = to_categorical(y_data)
y_train = y_data[:1395]
y_test = y_data[1395:]

def vanilla_rnn():
    model = Sequential()
    model.add(SimpleRNN(50, input_shape = (49,1), return_sequences = False))
    model.add(Dense(46))
    model.add(Activation('softmax'))
    
    adam = optimizers.Adam(lr = 0.001)
    model.compile(loss = 'categorical_crossentropy', optimizer = adam, metrics = ['accuracy'])
    
    return model

model = KerasClassifier(build_fn = vanilla_rnn, epochs = 200, batch_size = 50, verbose = 1)
model.fit(X_train, y_train)

y_pred = model.predict(X_test)
y_test_ = np.argmax(y_test, axis = 1)

print(accuracy_score(y_pred, y_test_))"""  # noqa: E501, W291, W293

# In [17]: of the notes, verbatim (trailing blanks included)
STACKED_RNN_SCRIPT = r"""import numpy as np

from sklearn.metrics import accuracy_score
from keras.datasets import reuters
from keras.preprocessing.sequence import pad_sequences
from keras.utils import to_categorical
from keras.models import Sequential
from keras.layers import Dense, SimpleRNN, Activation
from keras import optimizers
from keras.wrappers.scikit_learn import KerasClassifier

# parameters for data load
num_words = 30000
maxlen = 50
test_split = 0.3

(X_train, y_train), (X_test, y_test) = reuters.load_data(num_words = num_words, maxlen = maxlen, test_split = test_split)

# pad the sequences with zeros 
# padding parameter is set to 'post' => 0's are appended to end of sequences
X_train = pad_sequences(X_train, padding = 'post')
X_test = pad_sequences(X_test, padding = 'post')

X_train = np.array(X_train).reshape((X_train.shape[0], X_train.shape[1], 1))
X_test = np.array(X_test).reshape((X_test.shape[0], X_test.shape[1], 1))

y_data = np.concatenate((y_train, y_test))
y_data = to_categorical(y_data)
y_train = y_data[:1395]
y_test = y_data[1395:]

def stacked_vanilla_rnn():
    model = Sequential()
    model.add(SimpleRNN(128, input_shape = (49,1), return_sequences = True))   # return_sequences parameter has to be set True to stack
    model.add(SimpleRNN(128, return_sequences = True))
    model.add(SimpleRNN(128, return_sequences = False))
    model.add(Dense(46))
    model.add(Activation('softmax'))
    
    adam = optimizers.Adam(lr = 0.001)
    model.compile(loss = 'categorical_crossentropy', optimizer = adam, metrics = ['accuracy'])
    
    return model

model = KerasClassifier(build_fn = stacked_vanilla_rnn, epochs = 200, batch_size = 50, verbose = 1)
model.fit(X_train, y_train)

y_pred = model.predict(X_test)
y_test_ = np.argmax(y_test, axis = 1)

print(accuracy_score(y_pred, y_test_))"""  # noqa: E501, W291, W293

IMPORT_REWRITES = [
    ("from keras.datasets import", "from rnnkit.datasets import"),
    ("from keras.preprocessing.sequence import", "from rnnkit.preprocessing.sequence import"),
    ("from keras.utils import", "from rnnkit.utils import"),
    ("from keras.models import", "from rnnkit.models import"),
    ("from keras.layers import", "from rnnkit.layers import"),
    ("from keras import optimizers", "from rnnkit import optimizers"),
    ("from keras.wrappers.scikit_learn import", "from rnnkit.wrappers.scikit_learn import"),
]

N_TRAIN, N_TEST, N_CLASSES, NUM_WORDS = 1395, 599, 46, 30000


def one_blas_thread():
    """The models' products are small (50 x 128): a multi-threaded BLAS only loses time
    here, and on a busy 2-core machine it loses a lot (measured: 2.6 s -> 49 s)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def port_to_rnnkit(script: str) -> str:
    """The script with only its keras imports rewritten and epochs = 200 -> 2."""
    lines = script.split("\n")
    rewritten = 0
    for i, line in enumerate(lines):
        for old, new in IMPORT_REWRITES:
            if line.startswith(old):
                lines[i] = new + line[len(old) :]
                rewritten += 1
    assert rewritten == len(IMPORT_REWRITES), "the script's imports are not the notes' imports"
    out = "\n".join(lines)
    assert out.count("epochs = 200") == 1
    out = out.replace("epochs = 200", "epochs = 2")
    # nothing but imports and epochs changed
    changed = [(a, b) for a, b in zip(script.split("\n"), out.split("\n"), strict=True) if a != b]
    assert all(a.startswith("from keras") or "epochs = 200" in a for a, _ in changed)
    assert not re.search(r"^\s*(from|import)\s+keras", out, flags=re.M)
    return out


def synthetic_reuters(seed: int = 0):
    """(X_train, y_train), (X_test, y_test) shaped like reuters.load_data(num_words=30000,
    maxlen=50, test_split=0.3): object arrays of int lists, each starting with 1."""
    rng = np.random.default_rng(seed)

    def sequences(n):
        lengths = rng.integers(5, 50, size=n)  # 5 … 49
        lengths[rng.integers(n)] = 49  # the longest is 49, so padding gives 49 steps
        out = np.empty(n, dtype=object)
        for i, length in enumerate(lengths):
            out[i] = [1] + rng.integers(2, NUM_WORDS, size=length - 1).tolist()
        return out

    extra = rng.integers(0, N_CLASSES, N_TRAIN - N_CLASSES)
    y_train = np.concatenate([np.arange(N_CLASSES), extra])
    rng.shuffle(y_train)
    y_test = rng.integers(0, N_CLASSES, N_TEST)
    return (sequences(N_TRAIN), y_train.astype(np.int64)), (sequences(N_TEST), y_test)


@pytest.fixture
def fake_reuters(monkeypatch):
    """Replace rnnkit.datasets.reuters.load_data, whether or not the module exists yet."""
    import rnnkit

    calls = []

    def load_data(
        path="reuters.npz",
        num_words=None,
        skip_top=0,
        maxlen=None,
        test_split=0.2,
        seed=113,
        start_char=1,
        oov_char=2,
        index_from=3,
        **kwargs,
    ):
        calls.append(dict(num_words=num_words, maxlen=maxlen, test_split=test_split))
        return synthetic_reuters()

    try:
        import rnnkit.datasets as datasets
    except ImportError:
        datasets = types.ModuleType("rnnkit.datasets")
        datasets.__path__ = []
        monkeypatch.setitem(sys.modules, "rnnkit.datasets", datasets)
        monkeypatch.setattr(rnnkit, "datasets", datasets, raising=False)
    try:
        import rnnkit.datasets.reuters as reuters
    except ImportError:
        reuters = types.ModuleType("rnnkit.datasets.reuters")
        monkeypatch.setitem(sys.modules, "rnnkit.datasets.reuters", reuters)
        monkeypatch.setattr(datasets, "reuters", reuters, raising=False)
    monkeypatch.setattr(reuters, "load_data", load_data, raising=False)
    return calls


def test_synthetic_reuters_has_the_real_calls_shape():
    (x_train, y_train), (x_test, y_test) = synthetic_reuters()
    assert len(x_train) == len(y_train) == N_TRAIN
    assert len(x_test) == len(y_test) == N_TEST
    for xs in (x_train, x_test):
        lengths = [len(s) for s in xs]
        assert min(lengths) >= 5 and max(lengths) == 49
        assert all(s[0] == 1 and max(s) < NUM_WORDS for s in xs)
    assert set(y_train.tolist()) == set(range(N_CLASSES))
    assert y_test.min() >= 0 and y_test.max() < N_CLASSES
    # the same data every time
    (x2, y2), _ = synthetic_reuters()
    assert list(x2[0]) == list(x_train[0]) and np.array_equal(y2, y_train)


def test_embedded_scripts_are_the_notes_cells():
    if not SEEDS_FILE.exists():
        if os.environ.get("RNNKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"{SEEDS_FILE} is missing and RNNKIT_REQUIRE_DATA=1")
        pytest.skip(f"{SEEDS_FILE} not available")
    notes = SEEDS_FILE.read_text(encoding="utf-8")
    # compared line by line, trailing blanks ignored (an editor may strip them here)
    lines = [line.rstrip() for line in notes.splitlines()]
    for cell, script in (("In [1]:", SIMPLE_RNN_SCRIPT), ("In [17]:", STACKED_RNN_SCRIPT)):
        assert cell in lines, cell
        start = lines.index(cell) + 1
        expected = [line.rstrip() for line in script.splitlines()]
        assert lines[start : start + len(expected)] == expected, cell


@pytest.mark.parametrize(
    "script, builder, units",
    [
        (SIMPLE_RNN_SCRIPT, "vanilla_rnn", [50]),
        (STACKED_RNN_SCRIPT, "stacked_vanilla_rnn", [128, 128, 128]),
    ],
    ids=["simple_rnn", "stacked_rnn"],
)
def test_seed_script_runs_on_rnnkit(script, builder, units, fake_reuters, capsys):
    import rnnkit

    rnnkit.set_random_seed(0)
    code = compile(port_to_rnnkit(script), f"<seed script {builder}>", "exec")
    namespace = {"__name__": "__seed_script__"}
    with one_blas_thread():
        exec(code, namespace)

    assert fake_reuters == [dict(num_words=30000, maxlen=50, test_split=0.3)]
    printed = capsys.readouterr().out.strip().splitlines()
    accuracy = float(printed[-1])
    assert 0.0 <= accuracy <= 1.0

    y_pred = np.asarray(namespace["y_pred"])
    assert y_pred.shape == (N_TEST,)
    assert np.all((y_pred >= 0) & (y_pred < N_CLASSES))
    assert accuracy == pytest.approx(np.mean(y_pred == namespace["y_test_"]))

    # the scripts' data handling reached the model as in the notes
    assert namespace["X_train"].shape == (N_TRAIN, 49, 1)
    assert namespace["X_test"].shape == (N_TEST, 49, 1)
    assert namespace["y_train"].shape == (N_TRAIN, N_CLASSES)
    wrapper = namespace["model"]
    assert len(wrapper.history_.history["loss"]) == 2  # epochs = 2
    assert all(np.isfinite(wrapper.history_.history["loss"]))
    layers = wrapper.model.layers
    rnn_units = [layer.units for layer in layers if type(layer).__name__ == "SimpleRNN"]
    assert rnn_units == units
    assert wrapper.model.output_shape == (None, N_CLASSES)
