;; Elementwise float32 kernels over n elements; items are groups of 4, [k0, k1). Operation codes:
;;   0 out = a + b      1 out = a · b
;;   2 out = relu(a) as XNNPACK computes it: the integer maximum of a's bits and 0 (−0 and NaNs with
;;     the sign bit set give +0, other NaNs pass)
;;   3 out = a · step(b), the ReLU gradient a = dy, b = x as tfjs composes it: step(x) is 1 where
;;     x > 0, 0 elsewhere and x itself where x is NaN
;; The group past n's last multiple of 4 runs one element at a time through the same vector code
;; (lane 0), so both paths round alike and nothing beyond n is read or written.
  (func $elementwiseOp (param $op i32) (param $a v128) (param $b v128) (result v128)
    (if (i32.eqz (local.get $op)) (then (return (f32x4.add (local.get $a) (local.get $b)))))
    (if (i32.eq (local.get $op) (i32.const 1)) (then (return (f32x4.mul (local.get $a) (local.get $b)))))
    (if (i32.eq (local.get $op) (i32.const 2)) (then (return (i32x4.max_s (local.get $a) (v128.const i32x4 0 0 0 0)))))
    (f32x4.mul (local.get $a)
      (v128.bitselect
        (local.get $b)
        (v128.bitselect (v128.const f32x4 1 1 1 1) (v128.const f32x4 0 0 0 0) (f32x4.gt (local.get $b) (v128.const f32x4 0 0 0 0)))
        (f32x4.ne (local.get $b) (local.get $b)))))
  (func (export "elementwise")
    (param $op i32) (param $a i32) (param $b i32) (param $out i32) (param $n i32) (param $k0 i32) (param $k1 i32)
    (local $i i32) (local $end i32) (local $vecEnd i32) (local $o i32)
    (local.set $i (i32.shl (local.get $k0) (i32.const 2)))
    (local.set $end (i32.shl (local.get $k1) (i32.const 2)))
    (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
    (local.set $vecEnd (i32.and (local.get $end) (i32.const -4)))
    (block $vecDone (loop $vec
      (br_if $vecDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (v128.store (i32.add (local.get $out) (local.get $o))
        (call $elementwiseOp (local.get $op)
          (v128.load (i32.add (local.get $a) (local.get $o)))
          (v128.load (i32.add (local.get $b) (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $vec)))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (v128.store32_lane 0 (i32.add (local.get $out) (local.get $o))
        (call $elementwiseOp (local.get $op)
          (v128.load32_zero (i32.add (local.get $a) (local.get $o)))
          (v128.load32_zero (i32.add (local.get $b) (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail))))
