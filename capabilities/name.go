package capabilities

import (
	"fmt"
	"strings"
)

const maxNameLength = 128

// ValidateName checks a capability name: "[namespace/]name", each part a DNS
// label (lower-case letters, digits and '-', starting and ending with a
// letter or digit, at most 63 characters). It fails with an error saying
// which rule the name breaks.
func ValidateName(name string) error {
	if len(name) > maxNameLength {
		return fmt.Errorf("name longer than %d characters", maxNameLength)
	}
	parts := strings.Split(name, "/")
	if len(parts) > 2 {
		return fmt.Errorf("%q has more than one '/': want [namespace/]name", name)
	}
	for _, p := range parts {
		if err := validateLabel(p); err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
	}
	return nil
}

// ShortName returns the part of a name after its namespace.
func ShortName(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

func validateLabel(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty name part")
	case len(s) > 63:
		return fmt.Errorf("part %q is longer than 63 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '-' {
			return fmt.Errorf("part %q has %q: want lower-case letters, digits and '-'", s, rune(c))
		}
		if !alnum && (i == 0 || i == len(s)-1) {
			return fmt.Errorf("part %q must start and end with a letter or digit", s)
		}
	}
	return nil
}
