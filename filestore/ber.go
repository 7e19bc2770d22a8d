package filestore

import (
	"errors"
	"fmt"
)

// BER → DER, for the PKCS#12 files NSS (pk12util, Firefox), Windows and Bouncy Castle write:
// indefinite lengths become definite, constructed string types (OCTET STRING, UTF8String,
// PrintableString, IA5String, BMPString, ...) become primitive, and lengths are re-encoded in
// their shortest form. The content octets of primitive values are kept byte for byte, so a
// MAC computed over an OCTET STRING's content still verifies. SET OF order is not changed.

const (
	// maxBERDepth bounds the nesting of constructed values the converter follows.
	maxBERDepth = 64
)

var errBER = errors.New("malformed BER")

// berToDER converts one BER value (and nothing after it) to DER. The output never exceeds
// MaxFileSize; nesting deeper than maxBERDepth is an error.
func berToDER(in []byte) ([]byte, error) {
	if len(in) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d", errBER, len(in), MaxFileSize)
	}
	out, n, err := berValue(in, 0, nil)
	if err != nil {
		return nil, err
	}
	if n != len(in) {
		return nil, fmt.Errorf("%w: %d bytes after the value", errBER, len(in)-n)
	}
	return out, nil
}

// berHeader parses an identifier and length. length is -1 for the indefinite form.
func berHeader(in []byte) (tag []byte, constructed, universal bool, number, length, hdr int, err error) {
	if len(in) < 2 {
		return nil, false, false, 0, 0, 0, fmt.Errorf("%w: truncated header", errBER)
	}
	i := 1
	constructed = in[0]&0x20 != 0
	universal = in[0]&0xc0 == 0
	number = int(in[0] & 0x1f)
	if number == 0x1f {
		number = 0
		for {
			if i >= len(in) || i > 4 {
				return nil, false, false, 0, 0, 0, fmt.Errorf("%w: bad tag", errBER)
			}
			b := in[i]
			i++
			number = number<<7 | int(b&0x7f)
			if b&0x80 == 0 {
				break
			}
		}
	}
	tag = in[:i]
	if i >= len(in) {
		return nil, false, false, 0, 0, 0, fmt.Errorf("%w: truncated length", errBER)
	}
	l := in[i]
	i++
	switch {
	case l < 0x80:
		length = int(l)
	case l == 0x80:
		if !constructed {
			return nil, false, false, 0, 0, 0, fmt.Errorf("%w: indefinite length on a primitive value", errBER)
		}
		length = -1
	default:
		nb := int(l & 0x7f)
		if nb > 4 || i+nb > len(in) {
			return nil, false, false, 0, 0, 0, fmt.Errorf("%w: bad length", errBER)
		}
		for _, b := range in[i : i+nb] {
			length = length<<8 | int(b)
		}
		i += nb
	}
	if length < -1 || length > len(in)-i {
		return nil, false, false, 0, 0, 0, fmt.Errorf("%w: length %d exceeds the data", errBER, length)
	}
	return tag, constructed, universal, number, length, i, nil
}

// isStringType reports whether a universal tag number is a string type that BER may
// encode constructed (BIT STRING aside, which is refused).
func isStringType(n int) bool {
	switch n {
	case 4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30:
		return true
	}
	return false
}

func appendLength(out []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(out, byte(n))
	case n < 1<<8:
		return append(out, 0x81, byte(n))
	case n < 1<<16:
		return append(out, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// berValue converts the value at the start of in, appending its DER to out; it returns the
// new out and the number of input bytes consumed.
func berValue(in []byte, depth int, out []byte) ([]byte, int, error) {
	if depth > maxBERDepth {
		return nil, 0, fmt.Errorf("%w: nested more than %d deep", errBER, maxBERDepth)
	}
	tag, constructed, universal, number, length, hdr, err := berHeader(in)
	if err != nil {
		return nil, 0, err
	}
	if universal && number == 0 {
		return nil, 0, fmt.Errorf("%w: end-of-contents outside an indefinite length", errBER)
	}
	if !constructed {
		if len(out)+hdr+length > MaxFileSize {
			return nil, 0, fmt.Errorf("%w: output exceeds %d bytes", errBER, MaxFileSize)
		}
		out = append(out, tag...)
		out = appendLength(out, length)
		return append(out, in[hdr:hdr+length]...), hdr + length, nil
	}
	if universal && number == 3 {
		return nil, 0, fmt.Errorf("%w: constructed BIT STRING is not supported", errBER)
	}
	flatten := universal && isStringType(number)
	// Convert the contents into a scratch buffer, then emit header + contents.
	var body []byte
	pos := hdr
	for {
		if length >= 0 && pos == hdr+length {
			break
		}
		if length < 0 {
			if pos+2 <= len(in) && in[pos] == 0 && in[pos+1] == 0 {
				pos += 2
				break
			}
		}
		if pos >= len(in) || (length >= 0 && pos > hdr+length) {
			return nil, 0, fmt.Errorf("%w: truncated contents", errBER)
		}
		end := len(in)
		if length >= 0 {
			end = hdr + length
		}
		if flatten {
			// Each segment must be a string of the same type; keep only its content octets.
			seg, n, err := berValue(in[pos:end], depth+1, nil)
			if err != nil {
				return nil, 0, err
			}
			if seg[0] != byte(number) {
				return nil, 0, fmt.Errorf("%w: segment of another type in a constructed string", errBER)
			}
			_, _, _, _, _, shdr, err := berHeader(seg)
			if err != nil {
				return nil, 0, err
			}
			body = append(body, seg[shdr:]...)
			pos += n
		} else {
			var n int
			if body, n, err = berValue(in[pos:end], depth+1, body); err != nil {
				return nil, 0, err
			}
			pos += n
		}
		if len(out)+len(body) > MaxFileSize {
			return nil, 0, fmt.Errorf("%w: output exceeds %d bytes", errBER, MaxFileSize)
		}
	}
	if flatten {
		out = append(out, tag[0]&^0x20)
		out = append(out, tag[1:]...)
	} else {
		out = append(out, tag...)
	}
	out = appendLength(out, len(body))
	return append(out, body...), pos, nil
}

// unmarshalBER is strictUnmarshal for values PKCS#12 allows in BER: DER is parsed as is;
// anything else is converted with berToDER first.
func unmarshalBER(b []byte, v any) error {
	err := strictUnmarshal(b, v)
	if err == nil {
		return nil
	}
	der, cerr := berToDER(b)
	if cerr != nil {
		return err
	}
	return strictUnmarshal(der, v)
}
