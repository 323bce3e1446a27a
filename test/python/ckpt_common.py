"""What TensorFlow's own checkpoint reader sees, in a form the TypeScript tests compare bit for bit."""
import tensorflow as tf


def dump_checkpoint(prefix):
    """{"variables": [{name, dtype, shape}] sorted by name bytes, "values": {name: hex bytes | [hex per string]}}."""
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    listed = sorted(tf.train.list_variables(prefix), key=lambda v: v[0].encode("utf-8"))
    variables, values = [], {}
    for name, shape in listed:
        dtype = dtypes[name]
        variables.append({"name": name, "dtype": dtype.name, "shape": list(shape)})
        value = reader.get_tensor(name)
        if dtype == tf.string:
            flat = value.reshape(-1).tolist() if hasattr(value, "reshape") else [value]
            values[name] = [bytes(s).hex() for s in flat]
        else:
            values[name] = value.tobytes().hex()
    return {"variables": variables, "values": values}
