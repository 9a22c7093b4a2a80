import * as tf from '@tensorflow/tfjs';

/** Scatters dy back into x's shape along one axis: positions begin, begin+s, …, begin+(n−1)s. */
function unsliceAxis(g: tf.Tensor, axis: number, begin: number, stride: number, size: number): tf.Tensor {
  const n = g.shape[axis];
  let spread = g;
  if (stride > 1 && n > 0) {
    const expanded = tf.expandDims(g, axis + 1);
    const pads = expanded.shape.map((_, i): [number, number] => (i === axis + 1 ? [0, stride - 1] : [0, 0]));
    const shape = [...g.shape];
    shape[axis] = n * stride;
    spread = tf.reshape(tf.pad(expanded, pads), shape);
    const keep = [...shape];
    keep[axis] = (n - 1) * stride + 1;
    spread = tf.slice(
      spread,
      shape.map(() => 0),
      keep,
    );
  }
  const span = spread.shape[axis];
  const pads = g.shape.map((_, i): [number, number] => (i === axis ? [begin, size - begin - span] : [0, 0]));
  return tf.pad(spread, pads);
}

/** Gradient of StridedSlice for positive strides without ellipsis/new-axis/shrink masks. */
export const stridedSliceGradient: tf.GradConfig = {
  kernelName: 'StridedSlice',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as tf.StridedSliceAttrs;
    if (a.ellipsisMask || a.newAxisMask || a.shrinkAxisMask) {
      throw new Error('StridedSlice gradient: ellipsis, new-axis and shrink masks are not supported');
    }
    const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, 0, 0, 0);
    if (info.strides.some((s) => s <= 0)) throw new Error('StridedSlice gradient: only positive strides are supported');
    return {
      x: () => {
        let g = tf.reshape(dy as tf.Tensor, info.finalShapeSparse);
        for (let axis = 0; axis < x.rank; axis++) {
          g = unsliceAxis(g, axis, info.begin[axis], info.strides[axis], x.shape[axis]);
        }
        return g;
      },
    };
  },
};
