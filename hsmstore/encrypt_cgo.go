//go:build cgo

package hsmstore

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef unsigned long hsm_ulong;
typedef hsm_ulong (*hsm_get_function_list)(void **);
typedef hsm_ulong (*hsm_encrypt_fn)(hsm_ulong, unsigned char *, hsm_ulong, unsigned char *, hsm_ulong *);

// The head of CK_FUNCTION_LIST (PKCS#11 2.40, 3.0): the version, then the functions in
// the standard's order; C_Encrypt is the 31st.
struct hsm_version { unsigned char major, minor; };
struct hsm_function_list_head { struct hsm_version version; void *fns[31]; };

// hsm_c_encrypt returns the C_Encrypt of the module at path, which this process has already
// loaded (RTLD_NOLOAD), or NULL.
static void *hsm_c_encrypt(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL) {
		return NULL;
	}
	void *fn = NULL;
	hsm_get_function_list gfl = (hsm_get_function_list)dlsym(h, "C_GetFunctionList");
	void *fl = NULL;
	if (gfl != NULL && gfl(&fl) == 0 && fl != NULL) {
		fn = ((struct hsm_function_list_head *)fl)->fns[30];
	}
	dlclose(h); // the reference miekg/pkcs11 holds keeps the module loaded
	return fn;
}

static hsm_ulong hsm_encrypt(void *fn, hsm_ulong sh, unsigned char *in, hsm_ulong inlen, unsigned char *out, hsm_ulong *outlen) {
	return ((hsm_encrypt_fn)fn)(sh, in, inlen, out, outlen);
}
*/
import "C"

import (
	"unsafe"

	"github.com/miekg/pkcs11"
)

// loadEncrypt finds the module's own C_Encrypt, for encryptSized.
func (m *module) loadEncrypt() {
	p := C.CString(m.path)
	defer C.free(unsafe.Pointer(p))
	m.cEncrypt = C.hsm_c_encrypt(p)
}

// encryptSized runs C_Encrypt once with an output buffer of size bytes, without the size
// query that miekg/pkcs11's Encrypt makes first. NSS softokn answers the size query of
// CKM_AES_GCM with the plaintext's length, leaving out the tag, then CKR_BUFFER_TOO_SMALL to
// the real call, and ends the operation (PKCS#11 says a too-small buffer leaves it active).
// Without the module's C_Encrypt at hand it falls back to miekg/pkcs11's Encrypt.
func (c *conn) encryptSized(sh pkcs11.SessionHandle, in []byte, size int) ([]byte, error) {
	fn := c.mod.cEncrypt
	if fn == nil {
		return c.p11.Encrypt(sh, in)
	}
	out := make([]byte, size+1) // never empty, so &out[0] exists
	inLen := len(in)
	n := C.hsm_ulong(size)
	// Never a NULL input pointer, even for no input: SoftHSM answers CKR_ARGUMENTS_BAD.
	if len(in) == 0 {
		in = out[size:]
	}
	inp := (*C.uchar)(unsafe.Pointer(&in[0]))
	rv := C.hsm_encrypt(fn, C.hsm_ulong(sh), inp, C.hsm_ulong(inLen), (*C.uchar)(unsafe.Pointer(&out[0])), &n)
	if rv != 0 {
		return nil, pkcs11.Error(rv)
	}
	if int(n) > size {
		return nil, pkcs11.Error(pkcs11.CKR_BUFFER_TOO_SMALL)
	}
	return out[:n], nil
}
