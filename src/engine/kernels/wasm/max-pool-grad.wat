;; MaxPoolGrad for non-overlapping windows inside x (stride = window, no padding, no dilation) over
;; NHWC tensors with c % 4 == 0: each window's dy goes to its first maximum in row-major order (a
;; later tap wins only when strictly greater; NaN never does), every other tap of the window gets 0.
;; Output rows r = b·oh + oy in [r0, r1); taps outside every window are left for the caller to zero.
  (func (export "maxPoolGrad")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $h i32) (param $w i32) (param $c i32) (param $oh i32) (param $ow i32) (param $fh i32) (param $fw i32)
    (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $ox i32) (local $ch i32) (local $fy i32) (local $fx i32) (local $t i32)
    (local $base i32) (local $o i32) (local $off i32) (local $rowBytes i32) (local $chBytes i32)
    (local $best v128) (local $idx v128) (local $v v128) (local $gt v128) (local $g v128)
    (local.set $chBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $w) (local.get $chBytes)))
    (local.set $r (local.get $r0))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $ox (i32.const 0))
      (block $colsDone (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $ox) (local.get $ow)))
        ;; first tap of the window: x[b, oy·fh, ox·fw, 0] with b·h + oy·fh = (r / oh)·h + (r % oh)·fh
        (local.set $base (i32.add
          (i32.mul (i32.add (i32.mul (i32.div_u (local.get $r) (local.get $oh)) (local.get $h))
                            (i32.mul (i32.rem_u (local.get $r) (local.get $oh)) (local.get $fh)))
                   (local.get $rowBytes))
          (i32.mul (i32.mul (local.get $ox) (local.get $fw)) (local.get $chBytes))))
        (local.set $o (i32.mul (i32.add (i32.mul (local.get $r) (local.get $ow)) (local.get $ox)) (local.get $chBytes)))
        (local.set $ch (i32.const 0))
        (loop $chans
          (local.set $best (v128.load (i32.add (local.get $x) (i32.add (local.get $base) (local.get $ch)))))
          (local.set $idx (v128.const i32x4 0 0 0 0))
          (local.set $t (i32.const 0))
          (local.set $fy (i32.const 0))
          (loop $scanY
            (local.set $fx (i32.const 0))
            (loop $scanX
              (local.set $off (i32.add (i32.add (local.get $base) (local.get $ch))
                (i32.add (i32.mul (local.get $fy) (local.get $rowBytes)) (i32.mul (local.get $fx) (local.get $chBytes)))))
              (local.set $v (v128.load (i32.add (local.get $x) (local.get $off))))
              (local.set $gt (f32x4.gt (local.get $v) (local.get $best)))
              (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $gt)))
              (local.set $idx (v128.bitselect (i32x4.splat (local.get $t)) (local.get $idx) (local.get $gt)))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (local.set $fx (i32.add (local.get $fx) (i32.const 1)))
              (br_if $scanX (i32.lt_u (local.get $fx) (local.get $fw))))
            (local.set $fy (i32.add (local.get $fy) (i32.const 1)))
            (br_if $scanY (i32.lt_u (local.get $fy) (local.get $fh))))
          (local.set $g (v128.load (i32.add (local.get $dy) (i32.add (local.get $o) (local.get $ch)))))
          (local.set $t (i32.const 0))
          (local.set $fy (i32.const 0))
          (loop $routeY
            (local.set $fx (i32.const 0))
            (loop $routeX
              (local.set $off (i32.add (i32.add (local.get $base) (local.get $ch))
                (i32.add (i32.mul (local.get $fy) (local.get $rowBytes)) (i32.mul (local.get $fx) (local.get $chBytes)))))
              (v128.store (i32.add (local.get $dx) (local.get $off))
                (v128.and (local.get $g) (i32x4.eq (local.get $idx) (i32x4.splat (local.get $t)))))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (local.set $fx (i32.add (local.get $fx) (i32.const 1)))
              (br_if $routeX (i32.lt_u (local.get $fx) (local.get $fw))))
            (local.set $fy (i32.add (local.get $fy) (i32.const 1)))
            (br_if $routeY (i32.lt_u (local.get $fy) (local.get $fh))))
          (local.set $ch (i32.add (local.get $ch) (i32.const 16)))
          (br_if $chans (i32.lt_u (local.get $ch) (local.get $chBytes))))
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (br $cols)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))
