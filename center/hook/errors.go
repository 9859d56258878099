package hook

import "errors"

// errRefused is an answer that retrying cannot change (a 4xx other than 408 and 429).
var errRefused = errors.New("refused by the endpoint")
