package secrets

// IDMMappings returns IDM's default mappings (PingIDM 8's shipped secrets.json) for the named
// store, with each alias at its default (the value after '|' in IDM's &{property|default}):
//
//	idm.default, idm.config.encryption, idm.password.encryption,
//	idm.assignment.attribute.encryption      ENCRYPT, DECRYPT  openidm-sym-default
//	idm.jwt.session.module.encryption        ENCRYPT, DECRYPT  openidm-localhost
//	idm.jwt.session.module.signing           SIGN, VERIFY      openidm-jwtsessionhmac-key
//	idm.selfservice.encryption               ENCRYPT, DECRYPT  selfservice
//	idm.selfservice.signing                  SIGN, VERIFY      openidm-selfservice-key
//
// To rotate, put the new alias first in a mapping's Aliases. Services that read IDM's own
// secrets.json use LoadConfig instead.
func IDMMappings(store string) []Mapping {
	ed := []Purpose{Encrypt, Decrypt}
	sv := []Purpose{Sign, Verify}
	m := func(id string, types []Purpose, alias string) Mapping {
		return Mapping{Store: store, SecretID: id, Types: types, Aliases: []string{alias}}
	}
	return []Mapping{
		m("idm.default", ed, "openidm-sym-default"),
		m("idm.config.encryption", ed, "openidm-sym-default"),
		m("idm.password.encryption", ed, "openidm-sym-default"),
		m("idm.assignment.attribute.encryption", ed, "openidm-sym-default"),
		m("idm.jwt.session.module.encryption", ed, "openidm-localhost"),
		m("idm.jwt.session.module.signing", sv, "openidm-jwtsessionhmac-key"),
		m("idm.selfservice.encryption", ed, "selfservice"),
		m("idm.selfservice.signing", sv, "openidm-selfservice-key"),
	}
}
