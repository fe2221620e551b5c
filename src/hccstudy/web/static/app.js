// hccstudy's own script: nothing but progressive enhancement (every page works without it).
