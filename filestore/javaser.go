package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A reader for the subset of the Java Object Serialization Stream Protocol that JCEKS secret-key
// entries use: JceKeyStore writes each secret key as a complete stream (AC ED 00 05) holding a
// com.sun.crypto.provider.SealedObjectForKeyProtector, whose sealed content is itself a stream
// holding a javax.crypto.spec.SecretKeySpec (or a java.security.KeyRep for keys whose class
// has a writeReplace).
//
// Nothing is instantiated: the stream becomes a tree of jObject, string, []byte, *jEnum and
// nil values. Supported: TC_OBJECT with serializable (not externalizable) class descriptors,
// TC_STRING, TC_ARRAY of byte, TC_ENUM, TC_NULL, TC_REFERENCE, and block data inside class
// and object annotations. Everything else (TC_LONGSTRING, TC_CLASS, proxy descriptors,
// TC_RESET, TC_EXCEPTION, arrays of other types) is an error. Nesting, handles, fields and
// objects are capped by the limits below, so a hostile stream costs at most its own length
// in time and memory.

const (
	jserMaxDepth   = 16  // nested objects / class descriptors
	jserMaxHandles = 128 // objects, strings, arrays, class descriptors in one stream
	jserMaxFields  = 64  // fields of one class descriptor
)

const (
	tcNull           = 0x70
	tcReference      = 0x71
	tcClassDesc      = 0x72
	tcObject         = 0x73
	tcString         = 0x74
	tcArray          = 0x75
	tcBlockData      = 0x77
	tcEndBlockData   = 0x78
	tcBlockDataLong  = 0x7A
	tcEnum           = 0x7E
	scWriteMethod    = 0x01
	scSerializable   = 0x02
	scExternalizable = 0x04
	scEnum           = 0x10
	jserBaseHandle   = 0x7E0000
)

var errJSer = errors.New("malformed Java serialization")

type jClassDesc struct {
	name   string
	flags  byte
	fields []jField
	super  *jClassDesc
}

type jField struct {
	typ       byte // 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z', 'L', '['
	name      string
	className string // for 'L' and '['
}

// A jObject holds the field values of each class of an object's hierarchy, by class name.
type jObject struct {
	class  *jClassDesc
	values map[string]map[string]any // class name → field name → value
}

type jEnum struct {
	class    *jClassDesc
	constant string
}

// field returns the value of field name declared by class cls.
func (o *jObject) field(cls, name string) any { return o.values[cls][name] }

type jserReader struct {
	b       []byte
	off     int
	handles []any
	depth   int
}

// parseJavaSerial parses one serialization stream holding one object at the start of b and
// returns the object and the number of bytes it took.
func parseJavaSerial(b []byte) (any, int, error) {
	r := &jserReader{b: b}
	if m, err := r.u16(); err != nil || m != 0xACED {
		return nil, 0, fmt.Errorf("%w: no stream header", errJSer)
	}
	if v, err := r.u16(); err != nil || v != 5 {
		return nil, 0, fmt.Errorf("%w: unsupported stream version", errJSer)
	}
	v, err := r.content()
	if err != nil {
		return nil, 0, err
	}
	return v, r.off, nil
}

func (r *jserReader) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errJSer, what, r.off)
}

func (r *jserReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, r.fail("truncated")
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, nil
}

func (r *jserReader) u8() (byte, error) {
	s, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

func (r *jserReader) u16() (uint16, error) {
	s, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(s), nil
}

func (r *jserReader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(s), nil
}

func (r *jserReader) utf() (string, error) {
	n, err := r.u16()
	if err != nil {
		return "", err
	}
	s, err := r.take(int(n))
	if err != nil {
		return "", err
	}
	str, ok := decodeModifiedUTF8(s)
	if !ok {
		return "", r.fail("bad modified UTF-8")
	}
	return str, nil
}

func (r *jserReader) newHandle(v any) error {
	if len(r.handles) >= jserMaxHandles {
		return r.fail("too many objects")
	}
	r.handles = append(r.handles, v)
	return nil
}

func (r *jserReader) reference() (any, error) {
	h, err := r.u32()
	if err != nil {
		return nil, err
	}
	i := int64(h) - jserBaseHandle
	if i < 0 || i >= int64(len(r.handles)) {
		return nil, r.fail("dangling reference")
	}
	return r.handles[i], nil
}

func (r *jserReader) enter() error {
	r.depth++
	if r.depth > jserMaxDepth {
		return r.fail("nesting too deep")
	}
	return nil
}

// content reads one object-valued item: an object, string, array, enum, null or reference.
func (r *jserReader) content() (any, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer func() { r.depth-- }()
	tc, err := r.u8()
	if err != nil {
		return nil, err
	}
	switch tc {
	case tcNull:
		return nil, nil
	case tcReference:
		v, err := r.reference()
		if _, isDesc := v.(*jClassDesc); isDesc {
			return nil, r.fail("reference to a class descriptor where an object belongs")
		}
		return v, err
	case tcString:
		s, err := r.utf()
		if err != nil {
			return nil, err
		}
		return s, r.newHandle(s)
	case tcArray:
		cd, err := r.classDesc()
		if err != nil {
			return nil, err
		}
		if cd == nil || cd.name != "[B" {
			return nil, r.fail("array of a type other than byte[]")
		}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if n > uint32(len(r.b)-r.off) {
			return nil, r.fail("array longer than the stream")
		}
		s, _ := r.take(int(n))
		return s, r.newHandle(s)
	case tcEnum:
		cd, err := r.classDesc()
		if err != nil {
			return nil, err
		}
		if cd == nil {
			return nil, r.fail("enum without class")
		}
		e := &jEnum{class: cd}
		if err := r.newHandle(e); err != nil {
			return nil, err
		}
		v, err := r.content()
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, r.fail("enum constant is not a string")
		}
		e.constant = s
		return e, nil
	case tcObject:
		return r.object()
	}
	return nil, r.fail(fmt.Sprintf("unsupported type code 0x%02x", tc))
}

// classDesc reads a class descriptor: TC_CLASSDESC, TC_REFERENCE to one, or TC_NULL.
func (r *jserReader) classDesc() (*jClassDesc, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer func() { r.depth-- }()
	tc, err := r.u8()
	if err != nil {
		return nil, err
	}
	switch tc {
	case tcNull:
		return nil, nil
	case tcReference:
		v, err := r.reference()
		if err != nil {
			return nil, err
		}
		cd, ok := v.(*jClassDesc)
		if !ok {
			return nil, r.fail("reference to a non-class where a class descriptor belongs")
		}
		return cd, nil
	case tcClassDesc:
	default:
		return nil, r.fail(fmt.Sprintf("unsupported class descriptor type code 0x%02x", tc))
	}
	name, err := r.utf()
	if err != nil {
		return nil, err
	}
	if _, err := r.take(8); err != nil { // serialVersionUID
		return nil, err
	}
	cd := &jClassDesc{name: name}
	if err := r.newHandle(cd); err != nil {
		return nil, err
	}
	if cd.flags, err = r.u8(); err != nil {
		return nil, err
	}
	if cd.flags&scExternalizable != 0 {
		return nil, r.fail("externalizable class")
	}
	nf, err := r.u16()
	if err != nil {
		return nil, err
	}
	if nf > jserMaxFields {
		return nil, r.fail("too many fields")
	}
	for range nf {
		var f jField
		if f.typ, err = r.u8(); err != nil {
			return nil, err
		}
		if f.name, err = r.utf(); err != nil {
			return nil, err
		}
		switch f.typ {
		case 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z':
		case 'L', '[':
			v, err := r.content()
			if err != nil {
				return nil, err
			}
			s, ok := v.(string)
			if !ok {
				return nil, r.fail("field type name is not a string")
			}
			f.className = s
		default:
			return nil, r.fail("bad field type")
		}
		cd.fields = append(cd.fields, f)
	}
	if err := r.annotation(); err != nil {
		return nil, err
	}
	if cd.super, err = r.classDesc(); err != nil {
		return nil, err
	}
	return cd, nil
}

// annotation skips block data and objects up to TC_ENDBLOCKDATA.
func (r *jserReader) annotation() error {
	for {
		if r.off >= len(r.b) {
			return r.fail("truncated")
		}
		switch r.b[r.off] {
		case tcEndBlockData:
			r.off++
			return nil
		case tcBlockData:
			r.off++
			n, err := r.u8()
			if err != nil {
				return err
			}
			if _, err := r.take(int(n)); err != nil {
				return err
			}
		case tcBlockDataLong:
			r.off++
			n, err := r.u32()
			if err != nil {
				return err
			}
			if n > uint32(len(r.b)-r.off) {
				return r.fail("truncated")
			}
			r.off += int(n)
		default:
			if _, err := r.content(); err != nil {
				return err
			}
		}
	}
}

var jserPrimSize = map[byte]int{'B': 1, 'Z': 1, 'C': 2, 'S': 2, 'I': 4, 'F': 4, 'J': 8, 'D': 8}

func (r *jserReader) object() (any, error) {
	cd, err := r.classDesc()
	if err != nil {
		return nil, err
	}
	if cd == nil {
		return nil, r.fail("object without class")
	}
	if cd.flags&scEnum != 0 {
		return nil, r.fail("enum class as an object")
	}
	o := &jObject{class: cd, values: map[string]map[string]any{}}
	if err := r.newHandle(o); err != nil {
		return nil, err
	}
	// Class data goes superclass first.
	var chain []*jClassDesc
	for c := cd; c != nil; c = c.super {
		if len(chain) >= jserMaxDepth {
			return nil, r.fail("class hierarchy too deep")
		}
		chain = append(chain, c)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		if c.flags&scSerializable == 0 {
			return nil, r.fail("class is not serializable")
		}
		vals := map[string]any{}
		o.values[c.name] = vals
		for _, f := range c.fields {
			if n, ok := jserPrimSize[f.typ]; ok {
				s, err := r.take(n)
				if err != nil {
					return nil, err
				}
				vals[f.name] = s
				continue
			}
			v, err := r.content()
			if err != nil {
				return nil, err
			}
			vals[f.name] = v
		}
		if c.flags&scWriteMethod != 0 {
			if err := r.annotation(); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// decodeModifiedUTF8 decodes Java's modified UTF-8 (DataInput.readUTF): 1-, 2- and 3-byte
// sequences of UTF-16 code units, surrogate pairs encoded separately.
func decodeModifiedUTF8(b []byte) (string, bool) {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b), true
	}
	units := make([]uint16, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c>>5 == 0x6:
			if i+1 >= len(b) || b[i+1]>>6 != 2 {
				return "", false
			}
			units = append(units, uint16(c&0x1f)<<6|uint16(b[i+1]&0x3f))
			i += 2
		case c>>4 == 0xe:
			if i+2 >= len(b) || b[i+1]>>6 != 2 || b[i+2]>>6 != 2 {
				return "", false
			}
			units = append(units, uint16(c&0x0f)<<12|uint16(b[i+1]&0x3f)<<6|uint16(b[i+2]&0x3f))
			i += 3
		default:
			return "", false
		}
	}
	return utf16String(units), true
}
