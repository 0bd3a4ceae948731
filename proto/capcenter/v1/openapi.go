// Package capcenterv1 is the capcenter API: the CapabilityService messages
// and stubs generated from capcenter.proto (never edited by hand), the REST
// gateway handlers and the OpenAPI document served by capd.
package capcenterv1

import _ "embed" // for the OpenAPI document below

// OpenAPI is the OpenAPI v2 document of the REST gateway, as generated
// into capcenter.swagger.json next to this file.
//
//go:embed capcenter.swagger.json
var OpenAPI []byte
