import * as tf from '@tensorflow/tfjs';

/**
 * Gradients that tfjs computes from a saved output y. The saved copy is disconnected from the tape,
 * so the second derivative loses the ∂y/∂x term. These versions recompute y from the input instead.
 */
const unary = (kernelName: string, dfdx: (x: tf.Tensor) => tf.Tensor): tf.GradConfig => ({
  kernelName,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as tf.Tensor, dfdx(saved[0])) }),
});

const softmaxAxis = (attrs: unknown, rank: number) => {
  const dim = (attrs as { dim?: number; axis?: number }).dim ?? (attrs as { axis?: number }).axis ?? -1;
  return dim < 0 ? rank + dim : dim;
};

export const recomputedGradients: tf.GradConfig[] = [
  unary('Exp', (x) => tf.exp(x)),
  unary('Tanh', (x) => tf.sub(1, tf.square(tf.tanh(x)))),
  unary('Sigmoid', (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.sub(1, s));
  }),
  unary('Elu', (x) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.exp(x))),
  {
    kernelName: 'Softmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, saved, attrs) => {
      const [logits] = saved;
      const axis = softmaxAxis(attrs, logits.rank);
      return {
        logits: () => {
          const y = tf.softmax(logits, axis);
          const d = dy as tf.Tensor;
          return tf.mul(y, tf.sub(d, tf.sum(tf.mul(d, y), axis, true)));
        },
      };
    },
  },
  {
    kernelName: 'LogSoftmax',
    inputsToSave: ['logits'],
    gradFunc: (dy, saved, attrs) => {
      const [logits] = saved;
      const axis = softmaxAxis(attrs, logits.rank);
      return {
        logits: () => {
          const d = dy as tf.Tensor;
          return tf.sub(d, tf.mul(tf.sum(d, axis, true), tf.softmax(logits, axis)));
        },
      };
    },
  },
  {
    kernelName: 'Pow',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const reduce = (g: tf.Tensor, shape: number[]) => {
        const axes = tf.broadcast_util.getReductionAxes(shape, outShape);
        return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
      };
      return {
        a: () => reduce(tf.mul(d, tf.mul(b, tf.pow(a, tf.sub(b, 1)))), a.shape),
        b: () => {
          const safeLog = tf.where(tf.greater(a, 0), tf.log(a), tf.zerosLike(a));
          return reduce(tf.mul(d, tf.mul(tf.pow(a, b), safeLog)), b.shape);
        },
      };
    },
  },
];
