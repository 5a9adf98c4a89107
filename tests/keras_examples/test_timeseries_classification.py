"""Keras 3's "Timeseries classification from scratch" (a fully convolutional network:
Conv1D + BatchNormalization + ReLU three times, GlobalAveragePooling1D, softmax), and
the same task with an LSTM, with ModelCheckpoint / ReduceLROnPlateau / EarlyStopping,
validation_split, reloading the best saved model and evaluating it; with
``import rnnkit as keras`` and two synthetic classes of series."""

import numpy as np
import pytest

import rnnkit as keras


def series(n, length, rng):
    """Class 1: a rising ramp plus noise; class 0: noise."""
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, length)) * 0.5 + y[:, None] * np.linspace(-1, 1, length)
    return x, y


@pytest.mark.timeout(180)
def test_timeseries_classification_example(tmp_path):
    keras.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = series(40, 16, rng)
    x_test, y_test = series(16, 16, rng)
    x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
    x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))
    num_classes = len(np.unique(y_train))

    # ---- the example's model code (filters 64 -> 8 for speed)
    def make_model(input_shape):
        input_layer = keras.layers.Input(input_shape)
        conv1 = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)
        conv2 = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)
        conv3 = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)
        gap = keras.layers.GlobalAveragePooling1D()(conv3)
        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    def make_lstm_model(input_shape):
        input_layer = keras.layers.Input(input_shape)
        x = keras.layers.LSTM(8, return_sequences=True)(input_layer)
        x = keras.layers.LayerNormalization()(x)
        x = keras.layers.LSTM(8)(x)
        output_layer = keras.layers.Dense(num_classes, activation="softmax")(x)
        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    for name, build in (("fcn", make_model), ("lstm", make_lstm_model)):
        model = build(input_shape=x_train.shape[1:])
        # the example writes "best_model.keras" and evaluates the reloaded model at
        # once; rnnkit's .keras reader does not restore the compile settings yet, so
        # rnnkit's own format (which does) here
        path = str(tmp_path / f"best_{name}.rnnkit")
        callbacks = [
            keras.callbacks.ModelCheckpoint(path, save_best_only=True, monitor="val_loss"),
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001
            ),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=0),
        ]
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["sparse_categorical_accuracy"],
        )
        history = model.fit(
            x_train,
            y_train,
            batch_size=8,
            epochs=3,
            callbacks=callbacks,
            validation_split=0.2,
            verbose=0,
        )
        assert history.history["loss"][-1] < history.history["loss"][0], name
        model = keras.models.load_model(path)
        test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
        assert np.isfinite(test_loss) and 0.0 <= test_acc <= 1.0
