import * as tf from '@tensorflow/tfjs';

/** Piecewise-constant ops: zero derivative almost everywhere. Needed when a max/min sits on the tape. */
const binary = ['Equal', 'NotEqual', 'Greater', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr'];

export const comparisonGradients: tf.GradConfig[] = [
  ...binary.map((kernelName): tf.GradConfig => ({
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, saved) => {
      const [a, b] = saved;
      return { a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) };
    },
  })),
  {
    kernelName: 'LogicalNot',
    inputsToSave: ['x'],
    gradFunc: (_dy, saved) => ({ x: () => tf.zerosLike(saved[0]) }),
  },
];
