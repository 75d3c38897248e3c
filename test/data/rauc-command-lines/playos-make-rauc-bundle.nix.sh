# Source: https://github.com/dividat/playos
# Path:   lib/make-rauc-bundle.nix (buildCommand)
# Commit: ba2d0a9f047de0ad94277ad16c90cb7729bdd6d0
# Nix interpolates ${cert} and ${key} textually; $TEMP and $out are
# environment variables of the build.
    rauc \
      --cert ${cert} \
      --key ${key} \
      bundle \
      $TEMP/rauc-bundle/ \
      $out
