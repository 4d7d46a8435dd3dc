;; The XML 1.0 character check of src/xml/control-bytes.ts: is there a byte below 0x20 other than TAB, LF and CR
;; among the first n bytes of memory? UTF-8 encodes those characters as themselves and uses no byte below 0x80 in
;; any other sequence, so this is the bytes' answer to the same question about the characters.
(module
  (memory (export "memory") 4)

  ;; Lanes of $v that hold such a byte (all ones), the others zero.
  (func $bad (param $v v128) (result v128)
    (v128.andnot
      (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 0x20)))
      (v128.or
        (v128.or (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x09)))
                 (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x0a))))
        (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x0d))))))

  ;; The offset of the first such byte in [0, n), or -1.
  (func (export "firstControl") (param $n i32) (result i32)
    (local $i i32) (local $blocks i32) (local $c i32)
    (local.set $blocks (i32.and (local.get $n) (i32.const -64)))
    ;; 64 bytes a turn; a turn that finds one leaves the rest to the loop below, which says where.
    (block $found
      (loop $turn
        (br_if $found (i32.ge_u (local.get $i) (local.get $blocks)))
        (br_if $found (v128.any_true
          (v128.or
            (v128.or (call $bad (v128.load offset=0 (local.get $i))) (call $bad (v128.load offset=16 (local.get $i))))
            (v128.or (call $bad (v128.load offset=32 (local.get $i))) (call $bad (v128.load offset=48 (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $turn)))
    (block $end
      (loop $byte
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.and (i32.lt_u (local.get $c) (i32.const 0x20))
                     (i32.and (i32.ne (local.get $c) (i32.const 0x09))
                              (i32.and (i32.ne (local.get $c) (i32.const 0x0a)) (i32.ne (local.get $c) (i32.const 0x0d)))))
          (then (return (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (i32.const -1)))
