"""Model files and the fractions container: reading, rewriting, writing atomically.

This room sits between the array core (:mod:`fastfrac.approximation`) and the
Keras layer.  Nothing in it imports TensorFlow or Keras, and h5py only when a
Keras file is read, so ``fastfrac approximate`` on .safetensors and .npz files
stays light:

- :mod:`~fastfrac._io.formats`: the tensor description and format detection;
- :mod:`~fastfrac._io.safetensors`, :mod:`~fastfrac._io.npz`,
  :mod:`~fastfrac._io.keras_h5`: one reader/rewriter per format;
- :mod:`~fastfrac._io.tensor_job`: one tensor approximated chunk by chunk;
- :mod:`~fastfrac._io.container`: the fractions container (num/den on disk);
- :mod:`~fastfrac._io.spec`: SPEC, the command line's precision map as text;
- :mod:`~fastfrac._io.rewrite`: rewriting one model file end to end;
- :mod:`~fastfrac._io.atomic`, :mod:`~fastfrac._io.ziputil`: all-or-nothing
  output files and ZIP member copying.
"""
