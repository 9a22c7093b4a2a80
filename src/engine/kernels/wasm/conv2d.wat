;; Conv2D for NHWC xp [N, Hp, Wp, Cin] (already zero-padded: no bounds checks) and W packed by blocks
;; of 8 output channels, [Cout/8, kh, kw, Cin, 8] (each block's weights contiguous) → y [N, Ho, Wo, Cout]:
;;   y[n,p,q,co] = Σ_{i,j,ci} xp[n, p·sh + i, q·sw + j, ci] · W[i,j,ci,co], summed over i, j, ci in order.
;; Output positions are taken in their flat order m = (n·Ho + p)·Wo + q, 4 at a time (rows and images
;; may differ within a group), times 8 output channels: 8 accumulators. An item is one group of 4
;; positions (the last one may be shorter: its positions run one at a time) and one block of 8 channels;
;; a call computes items [t0, t1). With $wFirst = 0 a group's channel blocks are consecutive items (its
;; x patches stay in cache), with 1 a block's groups are (its filter stays in cache).
;; Output position (n, p, q) goes to y[n, dy0 + p·dsy, dx0 + q·dsx, :] of a [N, dh, dw, Cout] tensor: with
;; (dh, dw, dy0, dx0, dsy, dsx) = (Ho, Wo, 0, 0, 1, 1) that is y itself; otherwise every dsy-th row and
;; dsx-th column from (dy0, dx0), so one phase of a strided input gradient lands in place.
;; Requires Cout % 8 == 0; pointers are byte offsets into the heap.
  (func $patch (param $xp i32) (param $m i32) (param $hp i32) (param $wp i32) (param $cin i32)
    (param $ho i32) (param $wo i32) (param $sh i32) (param $sw i32) (result i32)
    ;; byte address of xp[n, p·sh, q·sw, 0] for flat output position m
    (local $hw i32) (local $rem i32)
    (local.set $hw (i32.mul (local.get $ho) (local.get $wo)))
    (local.set $rem (i32.rem_u (local.get $m) (local.get $hw)))
    (i32.add (local.get $xp) (i32.shl
      (i32.mul
        (i32.add
          (i32.mul (i32.add (i32.mul (i32.div_u (local.get $m) (local.get $hw)) (local.get $hp))
                            (i32.mul (i32.div_u (local.get $rem) (local.get $wo)) (local.get $sh)))
                   (local.get $wp))
          (i32.mul (i32.rem_u (local.get $rem) (local.get $wo)) (local.get $sw)))
        (local.get $cin))
      (i32.const 2))))

  (func $dst (param $y i32) (param $m i32) (param $ho i32) (param $wo i32) (param $dh i32) (param $dw i32)
    (param $dy0 i32) (param $dx0 i32) (param $dsy i32) (param $dsx i32) (param $cout i32) (result i32)
    ;; byte address of y[n, dy0 + p·dsy, dx0 + q·dsx, 0] for flat output position m = (n·Ho + p)·Wo + q
    (local $hw i32) (local $rem i32)
    (local.set $hw (i32.mul (local.get $ho) (local.get $wo)))
    (local.set $rem (i32.rem_u (local.get $m) (local.get $hw)))
    (i32.add (local.get $y) (i32.shl
      (i32.mul
        (i32.add
          (i32.mul (i32.add (i32.mul (i32.div_u (local.get $m) (local.get $hw)) (local.get $dh))
                            (i32.add (local.get $dy0) (i32.mul (i32.div_u (local.get $rem) (local.get $wo)) (local.get $dsy))))
                   (local.get $dw))
          (i32.add (local.get $dx0) (i32.mul (i32.rem_u (local.get $rem) (local.get $wo)) (local.get $dsx))))
        (local.get $cout))
      (i32.const 2))))

  (func (export "conv2d")
    (param $xp i32) (param $wt i32) (param $y i32)
    (param $n i32) (param $hp i32) (param $wp i32) (param $cin i32) (param $ho i32) (param $wo i32) (param $cout i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $wFirst i32)
    (param $dh i32) (param $dw i32) (param $dy0 i32) (param $dx0 i32) (param $dsy i32) (param $dsx i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $blocks i32) (local $groups i32) (local $total i32) (local $g i32) (local $co0 i32)
    (local $m i32) (local $mEnd i32) (local $i i32) (local $j i32) (local $tap i32) (local $c i32) (local $cend i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $wa i32) (local $wrow i32) (local $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $w0 v128) (local $w1 v128) (local $s v128)
    (local $dense i32) (local $cob i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local.set $blocks (i32.shr_u (local.get $cout) (i32.const 3)))
    (local.set $total (i32.mul (i32.mul (local.get $n) (local.get $ho)) (local.get $wo)))
    (local.set $groups (i32.shr_u (i32.add (local.get $total) (i32.const 3)) (i32.const 2)))
    (local.set $wrow (i32.shl (local.get $cout) (i32.const 2)))
    (local.set $cend (i32.shl (local.get $cin) (i32.const 2)))
    (local.set $dense (i32.and
      (i32.and (i32.eq (local.get $dh) (local.get $ho)) (i32.eq (local.get $dw) (local.get $wo)))
      (i32.and (i32.eqz (i32.or (local.get $dy0) (local.get $dx0)))
               (i32.and (i32.eq (local.get $dsy) (i32.const 1)) (i32.eq (local.get $dsx) (i32.const 1))))))
    (local.set $t (local.get $t0))
    (block $itemsDone (loop $items
      (br_if $itemsDone (i32.ge_u (local.get $t) (local.get $t1)))
      (if (local.get $wFirst)
        (then
          (local.set $g (i32.rem_u (local.get $t) (local.get $groups)))
          (local.set $co0 (i32.shl (i32.div_u (local.get $t) (local.get $groups)) (i32.const 3))))
        (else
          (local.set $g (i32.div_u (local.get $t) (local.get $blocks)))
          (local.set $co0 (i32.shl (i32.rem_u (local.get $t) (local.get $blocks)) (i32.const 3)))))
      (local.set $m (i32.shl (local.get $g) (i32.const 2)))
      (local.set $mEnd (i32.add (local.get $m) (i32.const 4)))
      (if (i32.gt_u (local.get $mEnd) (local.get $total)) (then (local.set $mEnd (local.get $total))))
      (if (i32.eq (i32.sub (local.get $mEnd) (local.get $m)) (i32.const 4)) (then
        (local.set $x0 (call $patch (local.get $xp) (local.get $m) (local.get $hp) (local.get $wp) (local.get $cin) (local.get $ho) (local.get $wo) (local.get $sh) (local.get $sw)))
        (local.set $x1 (call $patch (local.get $xp) (i32.add (local.get $m) (i32.const 1)) (local.get $hp) (local.get $wp) (local.get $cin) (local.get $ho) (local.get $wo) (local.get $sh) (local.get $sw)))
        (local.set $x2 (call $patch (local.get $xp) (i32.add (local.get $m) (i32.const 2)) (local.get $hp) (local.get $wp) (local.get $cin) (local.get $ho) (local.get $wo) (local.get $sh) (local.get $sw)))
        (local.set $x3 (call $patch (local.get $xp) (i32.add (local.get $m) (i32.const 3)) (local.get $hp) (local.get $wp) (local.get $cin) (local.get $ho) (local.get $wo) (local.get $sh) (local.get $sw)))
        (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $taps_i
          (local.set $j (i32.const 0))
          (loop $taps_j
            ;; byte offset of tap (i, j) from a patch's first pixel, and W[i, j, 0, co0]
            (local.set $tap (i32.shl (i32.mul (i32.add (i32.mul (local.get $i) (local.get $wp)) (local.get $j)) (local.get $cin)) (i32.const 2)))
            (local.set $wa (i32.add (local.get $wt) (i32.shl
              (i32.mul (i32.add (i32.mul (i32.shr_u (local.get $co0) (i32.const 3)) (i32.mul (local.get $kh) (local.get $kw)))
                                (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)))
                       (local.get $cin))
              (i32.const 5))))
            (local.set $c (local.get $tap))
            (local.set $cend (i32.add (local.get $tap) (i32.shl (local.get $cin) (i32.const 2))))
            (loop $chans
              (local.set $w0 (v128.load (local.get $wa)))
              (local.set $w1 (v128.load offset=16 (local.get $wa)))
              (local.set $s (v128.load32_splat (i32.add (local.get $x0) (local.get $c))))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $s (v128.load32_splat (i32.add (local.get $x1) (local.get $c))))
              (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $s (v128.load32_splat (i32.add (local.get $x2) (local.get $c))))
              (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $s (v128.load32_splat (i32.add (local.get $x3) (local.get $c))))
              (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $s) (local.get $w1))))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (local.set $wa (i32.add (local.get $wa) (i32.const 32)))
              (br_if $chans (i32.lt_u (local.get $c) (local.get $cend))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $taps_j (i32.lt_u (local.get $j) (local.get $kw))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $taps_i (i32.lt_u (local.get $i) (local.get $kh))))
        (if (local.get $dense)
          (then
            (local.set $out (i32.add (local.get $y) (i32.shl (i32.mul (local.get $m) (local.get $cout)) (i32.const 2))))
            (local.set $o1 (i32.add (local.get $out) (local.get $wrow)))
            (local.set $o2 (i32.add (local.get $o1) (local.get $wrow)))
            (local.set $o3 (i32.add (local.get $o2) (local.get $wrow))))
          (else
            (local.set $out (call $dst (local.get $y) (local.get $m) (local.get $ho) (local.get $wo) (local.get $dh) (local.get $dw) (local.get $dy0) (local.get $dx0) (local.get $dsy) (local.get $dsx) (local.get $cout)))
            (local.set $o1 (call $dst (local.get $y) (i32.add (local.get $m) (i32.const 1)) (local.get $ho) (local.get $wo) (local.get $dh) (local.get $dw) (local.get $dy0) (local.get $dx0) (local.get $dsy) (local.get $dsx) (local.get $cout)))
            (local.set $o2 (call $dst (local.get $y) (i32.add (local.get $m) (i32.const 2)) (local.get $ho) (local.get $wo) (local.get $dh) (local.get $dw) (local.get $dy0) (local.get $dx0) (local.get $dsy) (local.get $dsx) (local.get $cout)))
            (local.set $o3 (call $dst (local.get $y) (i32.add (local.get $m) (i32.const 3)) (local.get $ho) (local.get $wo) (local.get $dh) (local.get $dw) (local.get $dy0) (local.get $dx0) (local.get $dsy) (local.get $dsx) (local.get $cout)))))
        (local.set $cob (i32.shl (local.get $co0) (i32.const 2)))
        (v128.store (i32.add (local.get $out) (local.get $cob)) (local.get $a0))
        (v128.store offset=16 (i32.add (local.get $out) (local.get $cob)) (local.get $b0))
        (v128.store (i32.add (local.get $o1) (local.get $cob)) (local.get $a1))
        (v128.store offset=16 (i32.add (local.get $o1) (local.get $cob)) (local.get $b1))
        (v128.store (i32.add (local.get $o2) (local.get $cob)) (local.get $a2))
        (v128.store offset=16 (i32.add (local.get $o2) (local.get $cob)) (local.get $b2))
        (v128.store (i32.add (local.get $o3) (local.get $cob)) (local.get $a3))
        (v128.store offset=16 (i32.add (local.get $o3) (local.get $cob)) (local.get $b3))
        (local.set $m (local.get $mEnd))))
      ;; a short last group: one position at a time
      (block $singlesDone (loop $singles
        (br_if $singlesDone (i32.ge_u (local.get $m) (local.get $mEnd)))
        (local.set $x0 (call $patch (local.get $xp) (local.get $m) (local.get $hp) (local.get $wp) (local.get $cin) (local.get $ho) (local.get $wo) (local.get $sh) (local.get $sw)))
        (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $si
          (local.set $j (i32.const 0))
          (loop $sj
            (local.set $tap (i32.shl (i32.mul (i32.add (i32.mul (local.get $i) (local.get $wp)) (local.get $j)) (local.get $cin)) (i32.const 2)))
            (local.set $wa (i32.add (local.get $wt) (i32.shl
              (i32.mul (i32.add (i32.mul (i32.shr_u (local.get $co0) (i32.const 3)) (i32.mul (local.get $kh) (local.get $kw)))
                                (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)))
                       (local.get $cin))
              (i32.const 5))))
            (local.set $c (local.get $tap))
            (local.set $cend (i32.add (local.get $tap) (i32.shl (local.get $cin) (i32.const 2))))
            (loop $sc
              (local.set $s (v128.load32_splat (i32.add (local.get $x0) (local.get $c))))
              (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $wa)))))
              (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wa)))))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (local.set $wa (i32.add (local.get $wa) (i32.const 32)))
              (br_if $sc (i32.lt_u (local.get $c) (local.get $cend))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $sj (i32.lt_u (local.get $j) (local.get $kw))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $si (i32.lt_u (local.get $i) (local.get $kh))))
        (local.set $out (i32.add
          (call $dst (local.get $y) (local.get $m) (local.get $ho) (local.get $wo) (local.get $dh) (local.get $dw) (local.get $dy0) (local.get $dx0) (local.get $dsy) (local.get $dsx) (local.get $cout))
          (i32.shl (local.get $co0) (i32.const 2))))
        (v128.store (local.get $out) (local.get $a0))
        (v128.store offset=16 (local.get $out) (local.get $b0))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $singles)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $items))))
