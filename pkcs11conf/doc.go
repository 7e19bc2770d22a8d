// Package pkcs11conf reads the configuration file of Java's SunPKCS11 provider, the file that
// PingIDM / ForgeRock IDM users already keep for their HSM, as the JDK reads it (JDK 17's
// parser is the reference, checked by a differential test; JDK 18 to 25 keywords are known),
// and reports mistakes with file, line, column and a hint. It never touches a token. Where it
// is deliberately stricter than a JDK it says so below. It is written from the JDK's
// documented and observable behaviour (its documentation, and differential tests against the
// JDK's own parser), not translated from the JDK's source.
//
// # Grammar
//
// The tokenizer is the JDK's (java.io.StreamTokenizer as sun.security.pkcs11.Config sets it
// up), reproduced byte for byte:
//
//   - the file is ISO-8859-1; lines end with \n, \r or \r\n, and the end of a line matters;
//   - words are runs of a-z A-Z 0-9 : . _ - / \ $ { } * + ~ ; since { and } are word
//     characters, "{CKA_TOKEN" is one word: put spaces around braces;
//   - # starts a comment to the end of the line; "..." quotes, with the escapes \a \b \f \n
//     \r \t \v, octal \0 to \377 and \<any>; an unclosed quote ends at the end of the line
//     (accepted, with a Warning);
//   - every other character ( = ( ) , and anything else) is a token by itself.
//
// Entries are "keyword = value". Each keyword may appear once ([ErrDuplicate]), except
// attributes: JDK 17 refuses repeats too, while JDK 25 lets a later name, library,
// description, boolean or mechanism list override an earlier one; this package keeps
// refusing them, since a repeated keyword in a security configuration is far more often a
// mistake than an intent. The value must be on the keyword's line, except inside { } lists; several
// entries may share a line, except library and description, which take the rest of the line
// (words and quoted strings joined by one space). Numbers are Java ints: decimal or 0x hex,
// with an optional sign, at most 0x7FFFFFFF. Booleans are exactly true or false.
//
// Keywords, with the Config field each fills: name, library (required unless NSS mode),
// description, slot, slotListIndex (exclusive: ErrConflict), enabledMechanisms,
// disabledMechanisms, attributes, handleStartupErrors, insertionCheckInterval,
// cleaner.shortInterval, cleaner.longInterval, destroyTokenAfterLogout, showInfo,
// allowLegacy, keyStoreCompatibilityMode, explicitCancel, omitInitialize,
// allowSingleThreadedModules, functionList, cipherTextStealingVariant (JDK 25), useEcX963Encoding
// and the NSS keywords nssUseSecmod, nssLibraryDirectory, nssSecmodDirectory, nssModule,
// nssDbMode, nssNetscapeDbWorkaround, nssArgs, nssUseSecmodTrust, nssOptimizeSpace, with the
// JDK's NSS-mode rules. handleStartupErrors also accepts ignoreMultipleInitialisation, which
// Debian's and Red Hat's JDK builds add.
//
// ${prop} is expanded where the JDK expands it, and only there: the file name ([ParseFile],
// [ParseProviderArg]), library, nssLibraryDirectory, nssSecmodDirectory and nssArgs. ${/} is the
// file separator, ${{...}} is left alone, an unknown property is ErrUnknownProperty. Java
// system properties map to Go equivalents (see [JavaProperty]): java.home comes from JAVA_HOME,
// else from the java found on PATH; Options.Properties adds or overrides properties, like -D.
//
// Mechanism lists hold CKM_ names, numbers and the pseudo mechanisms SecureRandom and
// KeyStore. attributes(operation, class, keytype) = { CKA_X = value ... } takes * / generate /
// import, a CKO_ name or *, a CKK_ name, number or *; attribute names are CKA_ names or
// numbers; values are true, false, null, a number, or 0h followed by hex digits, which the JDK
// reads as a number (new BigInteger(hex, 16).toByteArray()): leading zero bytes are dropped
// and 00 is prepended when the top bit is set (Parse warns when that changes the bytes).
// "attributes = compatibility" stands for the JDK's preset rules. [Config.Template] merges the
// rules for one (operation, class, key type) as the JDK does.
//
// Names: every CKA_/CKO_/CKK_/CKM_ name of PKCS#11 v2.40 and v3.0 and the NSS names the JDK
// knows ([AttributeByName], [MechanismByName], ...). Values come from github.com/miekg/pkcs11
// where it has them, except CKK_SHA3_*_HMAC, where it has pre-v3.0 draft values and the JDK's
// v3.0 values are used. The JDK's own tables are a subset; tests check they agree.
//
// Deliberate differences from the JDK's parser: a negative slot, slotListIndex, mechanism,
// key type, attribute type or attribute value is rejected (ErrValue), since it breaks the
// provider later; JDK 17 accepts any keyword ending in insertionCheckInterval, JDK 21 and
// later (and this package) only the keyword itself; and names from PKCS#11 v3.0 that an older
// JDK lacks are accepted.
//
// # Extensions
//
// tokenLabel and tokenSerial select the token by label or serial number ([Config.TokenLabel],
// [Config.TokenSerial]), which stays stable when SoftHSM renumbers its slots. The JDK rejects
// them as unknown keywords, so write them in a comment that the JDK skips and this package
// reads:
//
//	slot = 1
//	#secretstores: tokenLabel = "idm-test"
//
// Only tokenLabel and tokenSerial may follow "#secretstores:". Written as plain keywords they
// work too, with a Warning that the JDK will refuse the file.
//
// # java.security
//
// [ReadJavaSecurity] and [ParseJavaSecurity] read security.provider.N lines. The JDK reads
// security.provider.1, .2, ... and stops at the first missing (or empty) number: IDM's
// documentation adds security.provider.14, which JDK 17 (providers 1 to 12) never reads. Such
// entries are listed in [JavaSecurity].Ignored with a [Warning] ([ErrProviderGap]) that names the
// line and the number to use. [JavaSecurity.Lookup]("SunPKCS11-<name>") returns the
// configuration of a provider by the name IDM's HsmBasedStore uses.
//
// # Errors and limits
//
// Every error for bad input is a [*ParseError] (File, Line, Column, Keyword, Msg, Hint) that
// wraps a sentinel (ErrSyntax, ErrUnknownKeyword, ErrDuplicate, ErrMissing, ErrConflict,
// ErrValue, ErrUnknownAttribute, ErrUnknownMechanism, ...), with "did you mean" hints for
// misspelt keywords and names. Input is limited to [MaxSize] (1 MiB) by default and Warnings to
// 100 entries. Parse never panics (FuzzParse).
//
// Attribute.PKCS11 and PKCS11Attributes convert templates to miekg/pkcs11 attributes; they
// exist only with cgo, like miekg/pkcs11's Attribute type. The rest of the package builds
// without cgo.
package pkcs11conf
