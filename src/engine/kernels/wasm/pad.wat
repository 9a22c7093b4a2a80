;; Zero padding of NHWC tensors for the convolutions (kernels/wasm/conv2d.ts): xp [N, Hp, Wp, C] with
;; xp[n, y + top, x + left, :] = x[n, y, x, :] for columns x in [x0, x1) (those that land inside Wp),
;; zeros elsewhere. An item is one row of xp (n·Hp + y); pointers are byte offsets into the heap.
  (func (export "padRows")
    (param $x i32) (param $xp i32) (param $h i32) (param $w i32) (param $c i32) (param $top i32) (param $left i32)
    (param $hp i32) (param $wp i32) (param $x0 i32) (param $x1 i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $sy i32) (local $dst i32) (local $rowBytes i32) (local $lo i32) (local $hi i32)
    (local.set $rowBytes (i32.shl (i32.mul (local.get $wp) (local.get $c)) (i32.const 2)))
    ;; bytes before and from the copied columns
    (local.set $lo (i32.shl (i32.mul (i32.add (local.get $x0) (local.get $left)) (local.get $c)) (i32.const 2)))
    (local.set $hi (i32.shl (i32.mul (i32.add (local.get $x1) (local.get $left)) (local.get $c)) (i32.const 2)))
    (local.set $r (local.get $r0))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $dst (i32.add (local.get $xp) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $sy (i32.sub (i32.rem_u (local.get $r) (local.get $hp)) (local.get $top)))
      (if (i32.or (i32.or (i32.lt_s (local.get $sy) (i32.const 0)) (i32.ge_s (local.get $sy) (local.get $h)))
                  (i32.ge_s (local.get $x0) (local.get $x1)))
        (then (memory.fill (local.get $dst) (i32.const 0) (local.get $rowBytes)))
        (else
          (memory.fill (local.get $dst) (i32.const 0) (local.get $lo))
          (memory.copy
            (i32.add (local.get $dst) (local.get $lo))
            (i32.add (local.get $x) (i32.shl (i32.mul
              (i32.add (i32.mul (i32.add (i32.mul (i32.div_u (local.get $r) (local.get $hp)) (local.get $h)) (local.get $sy)) (local.get $w)) (local.get $x0))
              (local.get $c)) (i32.const 2)))
            (i32.sub (local.get $hi) (local.get $lo)))
          (memory.fill (i32.add (local.get $dst) (local.get $hi)) (i32.const 0) (i32.sub (local.get $rowBytes) (local.get $hi)))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))
