"""Keras 3's "Timeseries forecasting for weather prediction": windows made by
``timeseries_dataset_from_array`` (sampling rate, batching), a functional LSTM, fit on
the data set with a data set for validation, EarlyStopping and ModelCheckpoint; with
``import rnnkit as keras`` and a synthetic multichannel series for the Jena data."""

import numpy as np
import pytest

import rnnkit as keras


@pytest.mark.timeout(120)
def test_weather_forecasting_example(tmp_path):
    keras.set_random_seed(0)
    rng = np.random.default_rng(0)
    steps = 400
    t = np.arange(steps)
    features = np.stack(
        [np.sin(t / 12 + k) + 0.1 * rng.standard_normal(steps) for k in range(3)], axis=1
    )
    split_fraction = 0.7
    train_split = int(split_fraction * steps)
    step = 2
    past = 24
    future = 4
    learning_rate = 0.01
    batch_size = 32
    epochs = 3

    def normalize(data, train_split):
        data_mean = data[:train_split].mean(axis=0)
        data_std = data[:train_split].std(axis=0)
        return (data - data_mean) / data_std

    features = normalize(features, train_split)
    train_data = features[:train_split]
    val_data = features[train_split:]
    start = past + future
    end = start + train_split
    x_train = train_data
    y_train = features[start:end][:, [1]]
    sequence_length = int(past / step)

    dataset_train = keras.preprocessing.timeseries_dataset_from_array(
        x_train,
        y_train,
        sequence_length=sequence_length,
        sampling_rate=step,
        batch_size=batch_size,
    )
    x_end = len(val_data) - past - future
    label_start = train_split + past + future
    x_val = val_data[:x_end]
    y_val = features[label_start:][:, [1]]
    dataset_val = keras.preprocessing.timeseries_dataset_from_array(
        x_val,
        y_val,
        sequence_length=sequence_length,
        sampling_rate=step,
        batch_size=batch_size,
    )
    for batch in dataset_train.take(1):
        inputs, targets = batch
    assert inputs.shape == (batch_size, sequence_length, 3) and targets.shape == (batch_size, 1)

    # ---- the example's model code
    inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
    lstm_out = keras.layers.LSTM(8)(inputs)
    outputs = keras.layers.Dense(1)(lstm_out)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    model.summary(print_fn=lambda *a, **k: None)

    path_checkpoint = str(tmp_path / "model_checkpoint.weights.h5")
    es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
    modelckpt_callback = keras.callbacks.ModelCheckpoint(
        monitor="val_loss",
        filepath=path_checkpoint,
        verbose=0,
        save_weights_only=True,
        save_best_only=True,
    )
    history = model.fit(
        dataset_train,
        epochs=epochs,
        validation_data=dataset_val,
        callbacks=[es_callback, modelckpt_callback],
        verbose=0,
    )
    loss = history.history["loss"]
    val_loss = history.history["val_loss"]
    assert len(loss) == len(val_loss) == epochs and loss[-1] < loss[0]
    for x, y in dataset_val.take(2):
        prediction = model.predict(x, verbose=0)[0]
        assert prediction.shape == (1,) and y[0].shape == (1,)
