# Packages: make deb, make rpm (scripts/build-packages.sh); results in
# build/packages/deb/{host,guest,debug}/ and build/packages/rpm/{host,guest,source}/.
.PHONY: deb rpm version
deb rpm: deps
	@scripts/build-packages.sh $@

version:
	@echo $(VGPU_VERSION)
