;; The gateway's finite check in WebAssembly SIMD, compiled at start-up by FiniteCheck.ts.
;;
;; A float32 is NaN or +-Infinity exactly when its eight exponent bits are all ones: the check is on the
;; bits (i32x4), sixteen floats (four vectors) per step, so a whole 1M-float gradient costs ~0.1 ms
;; where the JavaScript loop of shared/floatCodec.ts took ~1.2 ms. A step that finds one goes to the
;; scalar loop, which names the first such float; a last 0-15 floats go through the scalar loop too.
(module
  (import "env" "memory" (memory 1))

  ;; Index of the first NaN or +-Infinity among the n floats at byte offset p, or -1.
  (func (export "firstNonFinite") (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $end i32) (local $vectorEnd i32) (local $exponent v128)
    (local.set $exponent (i32x4.splat (i32.const 0x7f800000)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vectorEnd
      (i32.add (local.get $p) (i32.and (i32.shl (local.get $n) (i32.const 2)) (i32.const -64))))
    (local.set $i (local.get $p))
    (block $found
      (loop $sixteen
        (br_if $found (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (br_if $found
          (v128.any_true
            (v128.or
              (v128.or
                (i32x4.eq (v128.and (v128.load (local.get $i)) (local.get $exponent)) (local.get $exponent))
                (i32x4.eq
                  (v128.and (v128.load offset=16 (local.get $i)) (local.get $exponent))
                  (local.get $exponent)))
              (v128.or
                (i32x4.eq
                  (v128.and (v128.load offset=32 (local.get $i)) (local.get $exponent))
                  (local.get $exponent))
                (i32x4.eq
                  (v128.and (v128.load offset=48 (local.get $i)) (local.get $exponent))
                  (local.get $exponent))))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $sixteen)))
    ;; From here: the step that holds the first one, or the tail.
    (block $none
      (loop $one
        (br_if $none (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.eq (i32.and (i32.load (local.get $i)) (i32.const 0x7f800000)) (i32.const 0x7f800000))
          (then (return (i32.shr_u (i32.sub (local.get $i) (local.get $p)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $one)))
    (i32.const -1))
)
