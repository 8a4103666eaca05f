;; The update rules' inner loops in WebAssembly SIMD, compiled at start-up by kernelMemory.ts.
;;
;; Arithmetic is float32, one rounding per operation in the order TF.js's optimizers use
;; (tfjs-core/src/optimizers/*_optimizer.ts), four floats per step (f32x4); a last 1-3 floats go through
;; the scalar tail, which does the same operations one float at a time.
;;
;; Pointers are byte offsets into the imported memory (any alignment); `n` counts floats. A gradient `g`
;; may not overlap the arrays it updates.
(module
  (import "env" "memory" (memory 1))

  ;; sgd: p = p - lr * g
  (func (export "sgd") (param $p i32) (param $g i32) (param $n i32) (param $lr f32)
    (local $i i32) (local $vectorEnd i32) (local $end i32) (local $lr4 v128)
    (local.set $lr4 (f32x4.splat (local.get $lr)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vectorEnd (i32.and (local.get $end) (i32.const -16)))
    (block $done
      (loop $four
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (v128.store (i32.add (local.get $p) (local.get $i))
          (f32x4.sub
            (v128.load (i32.add (local.get $p) (local.get $i)))
            (f32x4.mul (local.get $lr4) (v128.load (i32.add (local.get $g) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $four)))
    (block $tailDone
      (loop $one
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store (i32.add (local.get $p) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $p) (local.get $i)))
            (f32.mul (local.get $lr) (f32.load (i32.add (local.get $g) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $one))))

  ;; momentum (not Nesterov): acc = mu * acc + g; p = p - lr * acc
  (func (export "momentum")
    (param $p i32) (param $acc i32) (param $g i32) (param $n i32) (param $lr f32) (param $mu f32)
    (local $i i32) (local $vectorEnd i32) (local $end i32)
    (local $lr4 v128) (local $mu4 v128) (local $a4 v128) (local $a f32)
    (local.set $lr4 (f32x4.splat (local.get $lr)))
    (local.set $mu4 (f32x4.splat (local.get $mu)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vectorEnd (i32.and (local.get $end) (i32.const -16)))
    (block $done
      (loop $four
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $a4
          (f32x4.add
            (f32x4.mul (local.get $mu4) (v128.load (i32.add (local.get $acc) (local.get $i))))
            (v128.load (i32.add (local.get $g) (local.get $i)))))
        (v128.store (i32.add (local.get $acc) (local.get $i)) (local.get $a4))
        (v128.store (i32.add (local.get $p) (local.get $i))
          (f32x4.sub
            (v128.load (i32.add (local.get $p) (local.get $i)))
            (f32x4.mul (local.get $lr4) (local.get $a4))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $four)))
    (block $tailDone
      (loop $one
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $a
          (f32.add
            (f32.mul (local.get $mu) (f32.load (i32.add (local.get $acc) (local.get $i))))
            (f32.load (i32.add (local.get $g) (local.get $i)))))
        (f32.store (i32.add (local.get $acc) (local.get $i)) (local.get $a))
        (f32.store (i32.add (local.get $p) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $p) (local.get $i)))
            (f32.mul (local.get $lr) (local.get $a))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $one))))

  ;; adam: m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g;
  ;;       p = p - (stepSize * m) / (sqrt(v) * invSqrtBias2 + eps)
  ;; (stepSize = lr / (1 - b1^t) and invSqrtBias2 = 1 / sqrt(1 - b2^t) are computed once per call.)
  (func (export "adam")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $stepSize f32) (param $b1 f32) (param $b2 f32) (param $invSqrtBias2 f32) (param $eps f32)
    (local $i i32) (local $vectorEnd i32) (local $end i32) (local $c1 f32) (local $c2 f32)
    (local $b14 v128) (local $b24 v128) (local $c14 v128) (local $c24 v128)
    (local $step4 v128) (local $bias4 v128) (local $eps4 v128)
    (local $g4 v128) (local $m4 v128) (local $v4 v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $c1 (f32.sub (f32.const 1) (local.get $b1)))
    (local.set $c2 (f32.sub (f32.const 1) (local.get $b2)))
    (local.set $b14 (f32x4.splat (local.get $b1)))
    (local.set $b24 (f32x4.splat (local.get $b2)))
    (local.set $c14 (f32x4.splat (local.get $c1)))
    (local.set $c24 (f32x4.splat (local.get $c2)))
    (local.set $step4 (f32x4.splat (local.get $stepSize)))
    (local.set $bias4 (f32x4.splat (local.get $invSqrtBias2)))
    (local.set $eps4 (f32x4.splat (local.get $eps)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vectorEnd (i32.and (local.get $end) (i32.const -16)))
    (block $done
      (loop $four
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m4
          (f32x4.add
            (f32x4.mul (local.get $b14) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $c14) (local.get $g4))))
        (local.set $v4
          (f32x4.add
            (f32x4.mul (local.get $b24) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (f32x4.mul (local.get $c24) (local.get $g4)) (local.get $g4))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $p) (local.get $i))
          (f32x4.sub
            (v128.load (i32.add (local.get $p) (local.get $i)))
            (f32x4.div
              (f32x4.mul (local.get $step4) (local.get $m4))
              (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $v4)) (local.get $bias4)) (local.get $eps4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $four)))
    (block $tailDone
      (loop $one
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
        (local.set $ms
          (f32.add
            (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $i))))
            (f32.mul (local.get $c1) (local.get $gs))))
        (local.set $vs
          (f32.add
            (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $i))))
            (f32.mul (f32.mul (local.get $c2) (local.get $gs)) (local.get $gs))))
        (f32.store (i32.add (local.get $m) (local.get $i)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $p) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $p) (local.get $i)))
            (f32.div
              (f32.mul (local.get $stepSize) (local.get $ms))
              (f32.add (f32.mul (f32.sqrt (local.get $vs)) (local.get $invSqrtBias2)) (local.get $eps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $one))))
)
