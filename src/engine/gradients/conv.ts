import * as tf from '@tensorflow/tfjs';

/** dW = ∂/∂W of conv(x, W) is bilinear in (x, dy); its adjoints are the two other conv products. */
const conv2dBackpropFilterGrad: tf.GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (ddw, saved, attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const w = ddw as tf.Tensor4D;
    if (dimRoundingMode !== undefined) throw new Error('Conv2DBackpropFilter gradient: dimRoundingMode is not supported');
    return {
      x: () => tf.conv2dTranspose(dy, w, x.shape, strides, pad as 'same' | 'valid' | number),
      dy: () => tf.conv2d(x, w, strides, pad as 'same' | 'valid' | number),
    };
  },
};

export const convGradients: tf.GradConfig[] = [conv2dBackpropFilterGrad];
