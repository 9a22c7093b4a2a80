;; Filter packing for conv2d.wat (kernels/wasm/conv2d.ts, conv-backprop-input.ts). Items are output
;; elements in groups of 8 (one v128 pair), in the packed order; pointers are byte offsets into the heap.

  ;; dst [cout/8, rows, 8] = src [rows, cout] cut into blocks of 8 columns: item i = block·rows + row.
  (func (export "packFilter")
    (param $src i32) (param $dst i32) (param $rows i32) (param $cout i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $s i32) (local $d i32)
    (local.set $i (local.get $i0))
    (block $done (loop $items
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 5))))
      (local.set $s (i32.add (local.get $src) (i32.shl
        (i32.add (i32.mul (i32.rem_u (local.get $i) (local.get $rows)) (local.get $cout))
                 (i32.shl (i32.div_u (local.get $i) (local.get $rows)) (i32.const 3)))
        (i32.const 2))))
      (v128.store (local.get $d) (v128.load (local.get $s)))
      (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $items))))

  ;; One phase (r, c) of a strided input gradient: dst [cin/8, th, tw, cout, 8] with
  ;; dst[b, t, u, co, l] = W[r + sh·(th−1−t), c + sw·(tw−1−u), 8b + l, co] for W [kh, kw, cin, cout]:
  ;; the taps that reach the phase, flipped, with in and out swapped. Item i = ((b·th + t)·tw + u)·cout + co.
  (func (export "packPhaseFilter")
    (param $w i32) (param $dst i32) (param $kw i32) (param $cin i32) (param $cout i32)
    (param $r i32) (param $c i32) (param $sh i32) (param $sw i32) (param $th i32) (param $tw i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $q i32) (local $u i32) (local $t i32) (local $s i32) (local $d i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $cout) (i32.const 2)))
    (local.set $i (local.get $i0))
    (block $done (loop $items
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $q (i32.div_u (local.get $i) (local.get $cout)))
      (local.set $u (i32.rem_u (local.get $q) (local.get $tw)))
      (local.set $q (i32.div_u (local.get $q) (local.get $tw)))
      (local.set $t (i32.rem_u (local.get $q) (local.get $th)))
      (local.set $q (i32.div_u (local.get $q) (local.get $th)))
      ;; W[tap row, tap column, 8·b, co]
      (local.set $s (i32.add (local.get $w) (i32.shl
        (i32.add
          (i32.mul
            (i32.add
              (i32.mul
                (i32.add (i32.mul (i32.add (local.get $r) (i32.mul (local.get $sh) (i32.sub (i32.sub (local.get $th) (i32.const 1)) (local.get $t))))
                                  (local.get $kw))
                         (i32.add (local.get $c) (i32.mul (local.get $sw) (i32.sub (i32.sub (local.get $tw) (i32.const 1)) (local.get $u)))))
                (local.get $cin))
              (i32.shl (local.get $q) (i32.const 3)))
            (local.get $cout))
          (i32.rem_u (local.get $i) (local.get $cout)))
        (i32.const 2))))
      (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 5))))
      (f32.store (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=4 (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=8 (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=12 (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=16 (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=20 (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=24 (local.get $d) (f32.load (local.get $s)))
      (local.set $s (i32.add (local.get $s) (local.get $stride)))
      (f32.store offset=28 (local.get $d) (f32.load (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $items))))
