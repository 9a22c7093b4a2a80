;; Conv2D for NHWC xp [N, Hp, Wp, Cin] (already zero-padded: no bounds checks) and HWIO W
;; [kh, kw, Cin, Cout] → y [N, Ho, Wo, Cout]:
;;   y[n,p,q,co] = Σ_{i,j,ci} xp[n, p·sh + i, q·sw + j, ci] · W[i,j,ci,co], summed over i, j, ci in order.
;; An item is one output row (n, p) and 8 output channels (item = row·(Cout/8) + block); a call computes
;; items [t0, t1). Within an item, 4 output positions at a time (8 accumulators), then single positions.
;; Requires Cout % 8 == 0; pointers are byte offsets into the heap.
  (func (export "conv2d")
    (param $xp i32) (param $wt i32) (param $y i32)
    (param $hp i32) (param $wp i32) (param $cin i32) (param $ho i32) (param $wo i32) (param $cout i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $blocks i32) (local $row i32) (local $img i32) (local $p i32) (local $co0 i32)
    (local $q i32) (local $i i32) (local $j i32) (local $xa i32) (local $wa i32) (local $xend i32)
    (local $pixStep i32) (local $wrow i32) (local $out i32) (local $xrow i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $w0 v128) (local $w1 v128) (local $s v128)
    (local.set $blocks (i32.shr_u (local.get $cout) (i32.const 3)))
    ;; bytes between the x pixels of neighbouring output positions; between rows of W for one tap
    (local.set $pixStep (i32.shl (i32.mul (local.get $sw) (local.get $cin)) (i32.const 2)))
    (local.set $wrow (i32.shl (local.get $cout) (i32.const 2)))
    (local.set $t (local.get $t0))
    (block $itemsDone (loop $items
      (br_if $itemsDone (i32.ge_u (local.get $t) (local.get $t1)))
      (local.set $row (i32.div_u (local.get $t) (local.get $blocks)))
      (local.set $co0 (i32.shl (i32.rem_u (local.get $t) (local.get $blocks)) (i32.const 3)))
      (local.set $img (i32.div_u (local.get $row) (local.get $ho)))
      (local.set $p (i32.rem_u (local.get $row) (local.get $ho)))
      ;; byte address of xp[img, p·sh, 0, 0]
      (local.set $xrow (i32.add (local.get $xp) (i32.shl
        (i32.mul (i32.add (i32.mul (local.get $img) (local.get $hp)) (i32.mul (local.get $p) (local.get $sh))) (i32.mul (local.get $wp) (local.get $cin)))
        (i32.const 2))))
      (local.set $out (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (i32.mul (local.get $row) (local.get $wo)) (local.get $cout)) (local.get $co0)) (i32.const 2))))
      (local.set $q (i32.const 0))
      ;; 4 positions at a time
      (block $quadDone (loop $quads
        (br_if $quadDone (i32.gt_u (i32.add (local.get $q) (i32.const 4)) (local.get $wo)))
        (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $taps_i
          (local.set $j (i32.const 0))
          (loop $taps_j
            ;; xp[img, p·sh + i, q·sw + j, 0] and W[i, j, 0, co0]
            (local.set $xa (i32.add (local.get $xrow) (i32.shl
              (i32.add (i32.mul (i32.mul (local.get $i) (local.get $wp)) (local.get $cin))
                       (i32.mul (i32.add (i32.mul (local.get $q) (local.get $sw)) (local.get $j)) (local.get $cin)))
              (i32.const 2))))
            (local.set $wa (i32.add (local.get $wt) (i32.shl
              (i32.add (i32.mul (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $cin)) (local.get $cout)) (local.get $co0))
              (i32.const 2))))
            (local.set $xend (i32.add (local.get $xa) (i32.shl (local.get $cin) (i32.const 2))))
            (loop $chans
              (local.set $w0 (v128.load (local.get $wa)))
              (local.set $w1 (v128.load offset=16 (local.get $wa)))
              (local.set $s (v128.load32_splat (local.get $xa)))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $s (v128.load32_splat (i32.add (local.get $xa) (local.get $pixStep))))
              (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $s (v128.load32_splat (i32.add (local.get $xa) (i32.shl (local.get $pixStep) (i32.const 1)))))
              (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $s (v128.load32_splat (i32.add (local.get $xa) (i32.mul (local.get $pixStep) (i32.const 3)))))
              (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
              (local.set $wa (i32.add (local.get $wa) (local.get $wrow)))
              (br_if $chans (i32.lt_u (local.get $xa) (local.get $xend))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $taps_j (i32.lt_u (local.get $j) (local.get $kw))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $taps_i (i32.lt_u (local.get $i) (local.get $kh))))
        (v128.store (local.get $out) (local.get $a0))
        (v128.store offset=16 (local.get $out) (local.get $b0))
        (v128.store (i32.add (local.get $out) (local.get $wrow)) (local.get $a1))
        (v128.store offset=16 (i32.add (local.get $out) (local.get $wrow)) (local.get $b1))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $wrow) (i32.const 1))) (local.get $a2))
        (v128.store offset=16 (i32.add (local.get $out) (i32.shl (local.get $wrow) (i32.const 1))) (local.get $b2))
        (v128.store (i32.add (local.get $out) (i32.mul (local.get $wrow) (i32.const 3))) (local.get $a3))
        (v128.store offset=16 (i32.add (local.get $out) (i32.mul (local.get $wrow) (i32.const 3))) (local.get $b3))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $wrow) (i32.const 2))))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $quads)))
      ;; the remaining positions one at a time
      (block $singlesDone (loop $singles
        (br_if $singlesDone (i32.ge_u (local.get $q) (local.get $wo)))
        (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $si
          (local.set $j (i32.const 0))
          (loop $sj
            (local.set $xa (i32.add (local.get $xrow) (i32.shl
              (i32.add (i32.mul (i32.mul (local.get $i) (local.get $wp)) (local.get $cin))
                       (i32.mul (i32.add (i32.mul (local.get $q) (local.get $sw)) (local.get $j)) (local.get $cin)))
              (i32.const 2))))
            (local.set $wa (i32.add (local.get $wt) (i32.shl
              (i32.add (i32.mul (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $cin)) (local.get $cout)) (local.get $co0))
              (i32.const 2))))
            (local.set $xend (i32.add (local.get $xa) (i32.shl (local.get $cin) (i32.const 2))))
            (loop $sc
              (local.set $s (v128.load32_splat (local.get $xa)))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $wa)))))
              (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wa)))))
              (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
              (local.set $wa (i32.add (local.get $wa) (local.get $wrow)))
              (br_if $sc (i32.lt_u (local.get $xa) (local.get $xend))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $sj (i32.lt_u (local.get $j) (local.get $kw))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $si (i32.lt_u (local.get $i) (local.get $kh))))
        (v128.store (local.get $out) (local.get $a0))
        (v128.store offset=16 (local.get $out) (local.get $b0))
        (local.set $out (i32.add (local.get $out) (local.get $wrow)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $singles)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $items))))
