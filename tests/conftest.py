"Shared pytest helpers."
import p8seg  # noqa: F401  (Keras 2 before TensorFlow)


def tiny_data_and_model(tmp, n_train, n_val, n_test=0, seed=0):
    "A synthetic data set at 64x128 under `tmp/data` and an untrained `unet_mini` (32x64, seeded) saved as `tmp/tiny.keras`."
    import tensorflow as tf
    from p8seg.data import make_synthetic_cityscapes
    from p8seg.models import unet_mini
    root = make_synthetic_cityscapes(tmp / "data", n_train=n_train, n_val=n_val, n_test=n_test, size=(64, 128), seed=seed)
    tf.keras.utils.set_random_seed(0)
    model_path = tmp / "tiny.keras"
    unet_mini(input_size=(32, 64, 3)).save(model_path)
    return tmp, root, model_path
